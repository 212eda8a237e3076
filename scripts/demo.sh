#!/usr/bin/env bash
# Set up and run the demo on the embedded default (SQLite in ./var).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/helhet demo "$@"
