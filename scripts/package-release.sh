#!/usr/bin/env bash
# Pack one release archive: scripts/package-release.sh TARGET [OUT_DIR]
#
#   OUT_DIR/tokengate-vX.Y.Z-TARGET.tar.gz     holding one directory:
#     tokengate-vX.Y.Z-TARGET/
#       tokengate                  the binary (TOKENGATE_BIN, default
#                                  $CARGO_TARGET_DIR/TARGET/release/tokengate)
#       LICENSE README.md CHANGELOG.md
#       completions/               tokengate.bash _tokengate tokengate.fish _tokengate.ps1
#       man/                       tokengate.1, tokengate-<command>.1
#   OUT_DIR/tokengate-vX.Y.Z-TARGET.tar.gz.sha256   its `sha256  name` line
#
# The version is Cargo.toml's; the binary must report the same one. The
# completions and man pages come from the binary itself (the hidden
# `release-assets` command), so it must run on this machine: the release
# workflow packs each target on a runner of that target. `SHA256SUMS` is the
# concatenation of the `.sha256` files (the release job writes it).
#
# Exit 2 on a usage or input error, with the reason.
set -euo pipefail

die() { echo "package-release: $*" >&2; exit 2; }
hash256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: scripts/package-release.sh TARGET [OUT_DIR]"
target=$1
[[ "$target" =~ ^[a-z0-9_]+(-[a-z0-9_]+){2,3}$ ]] || die "TARGET '$target' is not a target triple (e.g. x86_64-unknown-linux-musl)"
# OUT_DIR and the binary are taken relative to where the script is called.
mkdir -p "${2:-dist}"
out=$(cd "${2:-dist}" && pwd)
bin=${TOKENGATE_BIN:-${CARGO_TARGET_DIR:-target}/$target/release/tokengate}
[ -x "$bin" ] || die "no binary at $bin (build it with: cargo build --release --target $target)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The [package] version: the first `version = "…"` line of Cargo.toml.
version=$(awk -F'"' '/^version *= *"/ { print $2; exit }' Cargo.toml)
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "Cargo.toml: no [package] version found"
reported=$("$bin" --version) || die "$bin --version failed (is it built for this machine?)"
[ "$reported" = "tokengate $version" ] || die "$bin reports '$reported', Cargo.toml says $version"

name="tokengate-v${version}-${target}"
stage=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir "$dir"
cp "$bin" "$dir/tokengate"
chmod 755 "$dir/tokengate"
cp LICENSE README.md CHANGELOG.md "$dir/"
"$bin" release-assets "$dir" >/dev/null

# Stable order and owner, so the archive lists the same on every runner
# (GNU tar on Linux; bsdtar on macOS takes -T and --no-recursion, not the
# owner flags).
archive="$out/$name.tar.gz"
(cd "$stage" && find "$name" -print | LC_ALL=C sort) > "$stage/files"
owner=()
if tar --version 2>/dev/null | grep -q 'GNU tar'; then owner=(--owner=0 --group=0 --numeric-owner); fi
# (`${a[@]+…}`: an empty array under `set -u` in macOS's bash 3.2.)
tar -czf "$archive" ${owner[@]+"${owner[@]}"} -C "$stage" --no-recursion -T "$stage/files"
(cd "$out" && hash256 "$name.tar.gz") > "$archive.sha256"
echo "$archive"
cat "$archive.sha256"
