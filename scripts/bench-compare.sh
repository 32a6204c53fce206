#!/usr/bin/env bash
# SQLite and PostgreSQL back to back, ROUNDS times (default 2), so that each pair meets
# the same moment of a shared machine. Extra arguments go to every run, e.g.
#   scripts/bench-compare.sh --only "client_credentials,introspection (valid)"
# PostgreSQL: TEST_POSTGRES_URL, by default the local server's Unix socket.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres}"
cargo bench --bench tenauth-bench --no-run
for round in $(seq 1 "${ROUNDS:-2}"); do
  for database in sqlite postgres; do
    echo "== round $round, $database, $(date -u +%H:%M:%S)"
    cargo bench -q --bench tenauth-bench -- --database "$database" --duration 5 \
      --concurrency 16 --deletion-sizes '' --seed-tokens 100000 "$@"
  done
done
