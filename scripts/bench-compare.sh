#!/usr/bin/env bash
# SQLite and PostgreSQL back to back, ROUNDS times (default 2), so that each pair meets
# the same moment of a shared machine. Extra arguments go to every run, e.g.
#   scripts/bench-compare.sh --only "client_credentials,introspection (valid)"
# With BEFORE=/path/to/an/older/tenauth, each database is measured with that binary and
# then with the current one, back to back (a before/after comparison of a change):
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release)
#   BEFORE=/tmp/before/target/release/tenauth scripts/bench-compare.sh
# (CURRENT_FIRST=1 measures the current binary first in each pair, to see the order's bias.)
# DELETION_SIZES (default none) is passed as --deletion-sizes.
# PostgreSQL: TEST_POSTGRES_URL, by default the local server's Unix socket.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres}"
cargo bench --bench tenauth-bench --no-run
for round in $(seq 1 "${ROUNDS:-2}"); do
  for database in sqlite postgres; do
    servers=(${BEFORE:+"$BEFORE"} current)
    [[ -n "${CURRENT_FIRST:-}" && -n "${BEFORE:-}" ]] && servers=(current "$BEFORE")
    for server in "${servers[@]}"; do
      echo "== round $round, $database, ${server}, $(date -u +%H:%M:%S)"
      server_flag=()
      [[ "$server" != current ]] && server_flag=(--server "$server")
      cargo bench -q --bench tenauth-bench -- --database "$database" --duration 5 \
        --concurrency 16 --deletion-sizes "${DELETION_SIZES:-}" --seed-tokens 100000 \
        "${server_flag[@]}" "$@"
    done
  done
done
