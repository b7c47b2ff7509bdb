# tokengate as a container image: a static musl binary on Alpine (CA
# certificates, bash for CI job scripts, a non-root user). The GitLab
# component runs its job in this image, so a consumer's pipeline needs no
# Rust; GitLab jobs need a shell, which is why the base is not distroless.
#
#   docker build -t tokengate .
#   docker run --rm -v "$PWD:/work" -w /work tokengate check examples/quickstart.yaml

# --- builder: the static binary ------------------------------------------
FROM rust:1-alpine AS builder
# musl-dev: the C runtime ring's C code links statically. Not pinned: its
# version is the one of the rust:1-alpine release, which moves with it.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
# The release profile (fat LTO, one codegen unit, stripped); musl's default
# static linking makes the binary run on any x86_64/aarch64 Linux.
RUN cargo build --release --locked --target "$(uname -m)-unknown-linux-musl" \
    && cp "target/$(uname -m)-unknown-linux-musl/release/tokengate" /tokengate

# --- final: binary, CA certificates, bash, non-root user ----------------
FROM alpine:3.20
# hadolint ignore=DL3018
RUN apk add --no-cache ca-certificates bash \
    && adduser -D -u 10001 tokengate
COPY --from=builder /tokengate /usr/local/bin/tokengate
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/tokengate"]
CMD ["--help"]
