#!/usr/bin/env bash
# The whole test suite: static checks, then pytest on SQLite and on a PostgreSQL server started here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

work=$(mktemp -d /tmp/helhet-test.XXXXXX)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_data="$work/pg"
cleanup() {
  if [ -f "$pg_data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export HELHET_DATA_DIR="$work/data"


mkdir -p "$HELHET_DATA_DIR"

echo "== ruff"
.venv/bin/ruff check helhet tests bench
echo "== mypy"
.venv/bin/mypy helhet

workers=${HELHET_TEST_WORKERS:-2}
status=0
echo "== pytest on SQLite"
env -u DATABASE_URL .venv/bin/pytest -n "$workers" -q "$@" || status=$?

echo "== pytest on PostgreSQL"
chown postgres "$work"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
port=${HELHET_TEST_PG_PORT:-54329}
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres helhet
DATABASE_URL="postgres://postgres@127.0.0.1:$port/helhet" .venv/bin/pytest -n "$workers" -q "$@" || {
  rc=$?
  [ "$status" -ne 0 ] || status=$rc
}

if [ "$status" -ne 0 ]; then
  echo "test suite FAILED (exit $status)" >&2
fi
exit "$status"
