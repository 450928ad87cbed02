#!/usr/bin/env bash
# `make demo`: run the example projects through every stage, outputs under build/demo/<example>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MLOPS="$ROOT/.venv/bin/mlops"
OUT="$ROOT/build/demo"
rm -rf "$OUT"
mkdir -p "$OUT"

for example in penguins diabetes; do
  work="$OUT/$example"
  echo
  echo "=== examples/$example ==="
  (
    cd "examples/$example"
    # infer a fresh contract beside the outputs, then validate against the committed one
    "$MLOPS" validate-data --workdir "$work/inferred" --infer-schema --set "data.schema=$work/schema.inferred.yaml"
    "$MLOPS" validate-data --workdir "$work"
    "$MLOPS" train --workdir "$work"
  )
done

# GitHub steps against the fake GitHub of the tests (127.0.0.1, no token, no network)
echo
echo "=== GitHub: sticky PR comment on the fake GitHub ==="
PYTHONPATH="$ROOT/tests" "$ROOT/.venv/bin/python" -m fakegithub --port 0 >"$OUT/fakegithub.env" 2>"$OUT/fakegithub.log" &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true' EXIT
until [[ -s "$OUT/fakegithub.env" ]]; do sleep 0.1; done
eval "$(cat "$OUT/fakegithub.env")"
for run in 1 2; do  # the second run updates the same comment
  (cd examples/penguins && "$MLOPS" comment --body-file "$OUT/penguins/train/summary.md" --pr 1)
done
kill "$fake_pid"
wait "$fake_pid" || { echo "fake GitHub saw requests that break GitHub's API contract:"; cat "$OUT/fakegithub.log"; exit 1; }

echo
echo "Demo finished. Outputs:"
for example in penguins diabetes; do
  echo "  build/demo/$example/   (open */summary.md; result.json is the machine-readable summary)"
done
