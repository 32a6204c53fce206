#!/usr/bin/env bash
# Schema-based fuzzing (issue 7, test 5): schemathesis generates requests from tenauth's own
# OpenAPI document (GET /openapi.json) for every operation and checks that none answers a
# 5xx. Runs against a real `tenauth serve` on a throw-away SQLite database, with a platform
# admin's Bearer token so that the admin API's validation is reached, not just its 401.
#
#   scripts/schemathesis.sh                 # target/debug/tenauth, 25 examples per operation
#   TENAUTH_BIN=... EXAMPLES=100 scripts/schemathesis.sh
#
# Needs schemathesis (`pip install schemathesis`, command `st`), curl and python3.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="${TENAUTH_BIN:-$repo_root/target/debug/tenauth}"
examples="${EXAMPLES:-25}"
command -v st >/dev/null || { echo "schemathesis: st is not installed (pip install schemathesis)" >&2; exit 1; }
[[ -x "$bin" ]] || { echo "schemathesis: no tenauth binary at $bin" >&2; exit 1; }
bin=$(realpath "$bin")

work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export DATABASE_URL="sqlite:$work/fuzz.db" TENAUTH_KEYS_DIR="$work/keys" RUST_LOG=warn
# Generated input would trip the guards before reaching validation: they have tests of their own.
export TENAUTH_RATE_LIMIT_CLIENT=0 TENAUTH_RATE_LIMIT_TENANT=0
export TENAUTH_LOGIN_FAILURES_PER_USER=0 TENAUTH_LOGIN_FAILURES_PER_CLIENT=0 TENAUTH_CLIENT_AUTH_FAILURES=0
admin=$("$bin" bootstrap --json 2>/dev/null)
read -r id secret < <(python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["client_id"], c["client_secret"])' <<<"$admin")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TENAUTH_BIND="127.0.0.1:$port" "$bin" serve 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -sf -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:$port/oauth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

status=0
st run "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error \
    --max-examples "$examples" \
    --request-timeout 10 \
    --generation-deterministic \
    -H "Authorization: Bearer $token" || status=$?
if grep -q "panicked" "$work/serve.log"; then
    echo "schemathesis: the server panicked" >&2
    status=1
fi
exit "$status"
