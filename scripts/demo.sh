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
    "$MLOPS" train --workdir "$work"
  )
done

echo
echo "Demo finished. Outputs:"
for example in penguins diabetes; do
  echo "  build/demo/$example/   (open */summary.md; result.json is the machine-readable summary)"
done
