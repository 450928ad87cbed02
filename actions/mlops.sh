#!/usr/bin/env bash
# `mlops COMMAND --config … --workdir … [--set …] EXTRA…` for every stage action.
# The shared flags come from env (MLOPS_CONFIG, MLOPS_WORKDIR, MLOPS_SET: one KEY=VALUE per
# line), so an input's text is only ever data, never shell code.
set -euo pipefail

if ! command -v mlops >/dev/null 2>&1; then
  echo "::error title=mlops::the mlops CLI is not installed in this job; add 'uses: OWNER/mlops-actions/actions/setup@v1' as an earlier step"
  exit 2
fi

command="$1"
shift
args=("$command" --config "${MLOPS_CONFIG:-mlops.yaml}" --workdir "${MLOPS_WORKDIR:-.mlops}")
while IFS= read -r override; do
  override="${override#"${override%%[![:space:]]*}"}"
  override="${override%"${override##*[![:space:]]}"}"
  if [[ -n "$override" ]]; then
    args+=(--set "$override")
  fi
done <<<"${MLOPS_SET:-}"
exec mlops "${args[@]}" "$@"
