#!/usr/bin/env bash
# The shell half of actions/setup (also used by the top-level action.yml):
#   cache-key  → outputs `dir` (pip's cache folder) and `key` (OS, Python, the package's pyproject.toml)
#   install    → pip install the package from this action's own checkout, extras from MLOPS_EXTRAS
#   versions   → outputs `python-version` and `mlops-version`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

case "$1" in
  cache-key)
    key="$(python - "$root/pyproject.toml" <<'PY'
import hashlib, os, platform, sys
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16]
print(f"mlops-pip-{os.environ.get('RUNNER_OS', 'unknown')}-{platform.python_version()}-{digest}")
PY
)"
    {
      echo "dir=$(python -m pip cache dir)"
      echo "key=$key"
    } >>"$GITHUB_OUTPUT"
    ;;
  install)
    spec="$root"
    if [[ -n "${MLOPS_EXTRAS:-}" ]]; then
      if [[ ! "$MLOPS_EXTRAS" =~ ^[A-Za-z0-9_,-]+$ ]]; then
        echo "::error title=mlops setup::input extras must be comma-separated names like 'serve,s3', got '$MLOPS_EXTRAS'"
        exit 2
      fi
      spec="${root}[${MLOPS_EXTRAS}]"
    fi
    python -m pip install --disable-pip-version-check --progress-bar off "$spec"
    ;;
  versions)
    {
      echo "python-version=$(python -c 'import platform; print(platform.python_version())')"
      echo "mlops-version=$(mlops --version | cut -d' ' -f2)"
    } >>"$GITHUB_OUTPUT"
    ;;
  *)
    echo "setup.sh: unknown step '$1' (cache-key, install or versions)" >&2
    exit 2
    ;;
esac
