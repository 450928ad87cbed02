#!/usr/bin/env bash
# The shell half of actions/setup (also used by the top-level action.yml):
#   cache-key  → outputs `dir` (the installer's cache folder) and `key` (OS, Python, installer,
#                the hash-pinned dependency set)
#   install    → install the hash-pinned dependency set for MLOPS_EXTRAS, then this action's own
#                checkout of the package without resolving anything; uv when it is on PATH, else pip
#   versions   → outputs `python-version` and `mlops-version`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Text in a workflow command must not end the command or start another one.
escape() {
  local text="${1//'%'/%25}"
  text="${text//$'\r'/%0D}"
  printf '%s' "${text//$'\n'/%0A}"
}

# Sets `lock` to requirements/action[-EXTRA...].txt for the comma-separated extras, sorted
# (`make lock` writes them); a function, not $(...), so its ::error line reaches the log.
lock_file() {
  local extras="${MLOPS_EXTRAS:-}" name=action
  if [[ -n "$extras" ]]; then
    if [[ ! "$extras" =~ ^[A-Za-z0-9_,-]+$ ]]; then
      echo "::error title=mlops setup::input extras must be comma-separated names like 'serve,s3', got '$(escape "$extras")'"
      exit 2
    fi
    name="action-$(tr ',' '\n' <<<"$extras" | sed '/^$/d' | sort -u | paste -sd- -)"
  fi
  if [[ ! -f "$root/requirements/$name.txt" ]]; then
    local known="" file set
    for file in "$root"/requirements/action*.txt; do
      set="$(basename "$file" .txt)"
      set="${set#action}"
      set="${set#-}"
      known+=" '${set//-/,}'"
    done
    echo "::error title=mlops setup::no locked dependency set for extras '$(escape "$extras")'; choose one of:$known"
    exit 2
  fi
  lock="$root/requirements/$name.txt"
}

installer() {
  if command -v uv >/dev/null 2>&1; then echo uv; else echo pip; fi
}

case "$1" in
  cache-key)
    lock_file
    tool="$(installer)"
    key="$(python - "$lock" "$tool" <<'PY'
import hashlib, os, platform, sys
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16]
print(f"mlops-{sys.argv[2]}-{os.environ.get('RUNNER_OS', 'unknown')}-{platform.python_version()}-{digest}")
PY
)"
    if [[ "$tool" == uv ]]; then dir="$(uv cache dir)"; else dir="$(python -m pip cache dir)"; fi
    {
      echo "dir=$dir"
      echo "key=$key"
    } >>"$GITHUB_OUTPUT"
    ;;
  install)
    lock_file
    if [[ "$(installer)" == uv ]]; then
      python="$(command -v python)"
      uv pip install --python "$python" --require-hashes -r "$lock"
      uv pip install --python "$python" --no-deps --no-build-isolation "$root"
    else
      python -m pip install --disable-pip-version-check --progress-bar off --require-hashes -r "$lock"
      python -m pip install --disable-pip-version-check --progress-bar off --no-deps --no-build-isolation "$root"
    fi
    ;;
  versions)
    {
      echo "python-version=$(python -c 'import platform; print(platform.python_version())')"
      echo "mlops-version=$(mlops --version | cut -d' ' -f2)"
    } >>"$GITHUB_OUTPUT"
    ;;
  *)
    echo "setup.sh: unknown step '$(escape "$1")' (cache-key, install or versions)" >&2
    exit 2
    ;;
esac
