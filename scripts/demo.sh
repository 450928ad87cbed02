#!/usr/bin/env bash
# `make demo`: both example projects through every stage, as the workflows run them, with
# everything GitHub holds (sticky PR comment, the registry of the examples' `url: github://`:
# releases and the mlops-registry branch, the drift alert) going to the test suite's fake GitHub
# on 127.0.0.1. Outputs land in build/demo/<example>/; nothing in examples/ changes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MLOPS="$ROOT/.venv/bin/mlops"
OUT="$ROOT/build/demo"
rm -rf "$OUT"
mkdir -p "$OUT"

step() { printf '\n\033[1m$ mlops %s\033[0m\n' "$*"; "$MLOPS" "$@"; }

# The fake GitHub: prints the environment that points mlops at it, holds PR #1.
PYTHONPATH="$ROOT/tests" "$ROOT/.venv/bin/python" -m support.fakegithub --port 0 >"$OUT/fakegithub.env" 2>"$OUT/fakegithub.log" &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true' EXIT
until [[ -s "$OUT/fakegithub.env" ]]; do sleep 0.1; done
eval "$(cat "$OUT/fakegithub.env")"
echo '{"pull_request": {"number": 1}}' >"$OUT/pull_request.json"
pr_event=(env GITHUB_EVENT_NAME=pull_request "GITHUB_EVENT_PATH=$OUT/pull_request.json")

declare -A CHALLENGER=([penguins]="model.params.max_depth=1" [diabetes]="model.params.alpha=30")
for example in penguins diabetes; do
  work="$OUT/$example"
  common=(--workdir "$work")
  printf '\n\033[1;34m=== examples/%s ===\033[0m\n' "$example"
  (
    cd "examples/$example"
    # A contract inferred from the training data (beside the outputs; the committed schema.yaml is the one used)
    step validate-data "${common[@]}" --workdir "$work/inferred" --infer-schema --set "data.schema=$work/schema.inferred.yaml"
    # Pull request: data and model checks, one sticky comment on PR #1
    "${pr_event[@]}" "$MLOPS" validate-data "${common[@]}" --comment
    step train "${common[@]}"
    "${pr_event[@]}" "$MLOPS" evaluate-gate "${common[@]}" --comment
    # Push to main: package, deploy to staging, promote to production
    step package-onnx "${common[@]}"
    step inspect "$work/package-onnx/model.onnx"
    step deploy "${common[@]}" --target models --alias staging
    step deploy "${common[@]}" --target models --alias production
    step registry list "${common[@]}" --target models
    # The next pull request: a challenger with other hyperparameters, gated against production
    # (the ONNX model in the registry, scored on the same test rows)
    challenger=(--workdir "$work/challenger" --set "${CHALLENGER[$example]}")
    step train "${challenger[@]}"
    step evaluate-gate "${challenger[@]}" --no-fail
    # Schedule: the later data (drift.current) against the training profile packaged in the
    # production model (drift.reference: registry:production)
    step drift-check --workdir "$work/drift-live"
  )
done

# The 2009 birds of Biscoe island alone do not resemble the training birds: the check, read-only
# as the template runs it, then the alert job, which sends repository_dispatch and opens the
# alert issue (on the fake GitHub) from the check's result alone.
(
  cd examples/penguins
  work="$OUT/penguins"
  { head -n 1 data/live.csv; grep ',Biscoe,' data/live.csv; } >"$work/live-biscoe.csv"
  step drift-check --workdir "$work/drift-biscoe" --current "$work/live-biscoe.csv" --no-alert
  step drift-alert --workdir "$work/drift-biscoe"
)

kill "$fake_pid"
wait "$fake_pid" || { echo "the fake GitHub saw requests that break GitHub's API contract:"; cat "$OUT/fakegithub.log"; exit 1; }

cat <<DONE

Demo finished. Outputs (each stage folder has summary.md and result.json):
  build/demo/penguins/   validate-data, train, evaluate-gate, package-onnx (model.onnx, model-card.md),
                         deploy, challenger/ (a second model gated against production),
                         drift-live/ and drift-biscoe/ (drift-check/report.html, drift-alert/)
  build/demo/diabetes/   the same for the regression example (one drift check)
  The registry (versions as release assets; metadata, aliases and audit on the mlops-registry
  branch) lived on the fake GitHub: \`registry list\` above printed it.
  The fake GitHub received: $(tail -n 1 "$OUT/fakegithub.log")
DONE
