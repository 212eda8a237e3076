#!/usr/bin/env bash
# Runs every benchmark in bench/ on the embedded default (SQLite); each prints its own figures.
# Pass a file name to run one: scripts/bench.sh bench/bench_scoring.py
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(bench/bench_*.py)
for script in "${scripts[@]}"; do
  echo "== $script"
  .venv/bin/python "$script"
done
