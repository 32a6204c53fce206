#!/usr/bin/env bash
# Scale-out smoke test: two tenauth instances over one PostgreSQL database, sharing one keys
# directory and one issuer. A token issued by instance A must be active when introspected on
# instance B; once revoked on B it must be inactive on A.
#
# Runs on the local machine, no Docker: needs a PostgreSQL server (started with pg_ctlcluster
# if it is not answering), psql, curl and python3.
#
#   deploy/smoke.sh                                  # target/release/tenauth, else target/debug/tenauth
#   TENAUTH_BIN=/path/to/tenauth deploy/smoke.sh
#
# Settings (environment): TENAUTH_BIN; PGHOST (default 127.0.0.1), PGPORT (5432) and PGUSER
# (postgres): a server where that user may create and drop databases; SMOKE_TIMEOUT (seconds
# to wait for the instances to be ready, default 30).
#
# It creates a throw-away database tenauth_smoke_<pid> and a temporary keys directory, and
# removes both (and stops the instances) on exit, whatever the outcome.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${TENAUTH_BIN:-}" ]]; then
    if [[ -x "$repo_root/target/release/tenauth" ]]; then
        TENAUTH_BIN="$repo_root/target/release/tenauth"
    else
        TENAUTH_BIN="$repo_root/target/debug/tenauth"
    fi
fi
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
timeout_s="${SMOKE_TIMEOUT:-30}"
issuer="http://tenauth.smoke"
db_name="tenauth_smoke_$$"

step() { printf 'smoke: %s\n' "$*"; }
fail() {
    printf 'smoke: FAILED: %s\n' "$*" >&2
    exit 1
}

[[ -x "$TENAUTH_BIN" ]] || fail "no tenauth binary at $TENAUTH_BIN (build it, or set TENAUTH_BIN)"
for tool in psql pg_isready curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done
step "binary $TENAUTH_BIN"

work=""
db_created=""
pids=()
cleanup() {
    local status=$?
    set +e
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [[ $status -ne 0 && -n "$work" ]]; then
        for log in "$work"/*.log; do
            [[ -s "$log" ]] || continue
            printf -- '--- last lines of %s\n' "${log##*/}" >&2
            tail -n 15 "$log" >&2
        done
    fi
    if [[ -n "$db_created" ]]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 \
            || printf 'smoke: could not drop database %s\n' "$db_name" >&2
    fi
    [[ -n "$work" ]] && rm -rf "$work"
    if [[ $status -eq 0 ]]; then
        step "PASSED"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'printf "smoke: interrupted\n" >&2; exit 130' INT
trap 'printf "smoke: terminated\n" >&2; exit 143' TERM

# 1. PostgreSQL, and a throw-away database.
if ! pg_isready -q; then
    step "PostgreSQL is not answering on $PGHOST:$PGPORT; starting the local cluster"
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$version" ]] || fail "no PostgreSQL cluster under /etc/postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start \
        || fail "nothing answers on $PGHOST:$PGPORT and pg_ctlcluster could not start $version/main"
    for _ in $(seq 1 50); do
        pg_isready -q && break
        sleep 0.2
    done
    pg_isready -q || fail "PostgreSQL did not come up on $PGHOST:$PGPORT"
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db_name" >/dev/null \
    || fail "cannot create database $db_name as $PGUSER@$PGHOST:$PGPORT"
db_created=1
step "created database $db_name"

work=$(mktemp -d "${TMPDIR:-/tmp}/tenauth-smoke.XXXXXX")
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db_name"
export TENAUTH_KEYS_DIR="$work/keys"
export TENAUTH_ISSUER="$issuer"
export RUST_LOG="${RUST_LOG:-info}"

# 2. One-shot setup, as a deployment does it before starting several instances: migrate, make
#    the keys directory (a signing key and secret-hash.key), and create the first client.
"$TENAUTH_BIN" migrate >"$work/migrate.log" 2>&1 || fail "tenauth migrate (see migrate.log above)"
step "migrated ($(grep -c applied "$work/migrate.log") migrations applied)"
"$TENAUTH_BIN" keys init >"$work/keys.log" 2>&1 || fail "tenauth keys init"
[[ -f "$TENAUTH_KEYS_DIR/secret-hash.key" ]] || fail "keys init did not create secret-hash.key"
step "prepared the shared keys directory (signing key and secret-hash.key)"
bootstrap=$("$TENAUTH_BIN" bootstrap --json 2>"$work/bootstrap.log") || fail "tenauth bootstrap --json"
read -r client_id client_secret < <(
    python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])' <<<"$bootstrap"
) || fail "tenauth bootstrap --json did not print {\"client_id\",\"client_secret\"}: $bootstrap"
[[ -n "$client_id" && -n "$client_secret" ]] || fail "empty bootstrap credentials"
step "bootstrapped platform admin client $client_id"

# 3. Two instances on two free ports, same database, keys directory and issuer.
read -r port_a port_b < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
')
a="http://127.0.0.1:$port_a"
b="http://127.0.0.1:$port_b"
TENAUTH_BIND="127.0.0.1:$port_a" TENAUTH_WORKERS=2 "$TENAUTH_BIN" serve >"$work/a.log" 2>&1 &
pids+=($!)
TENAUTH_BIND="127.0.0.1:$port_b" TENAUTH_WORKERS=2 "$TENAUTH_BIN" serve >"$work/b.log" 2>&1 &
pids+=($!)
step "started instance A on $a and B on $b (issuer $issuer)"

deadline=$((SECONDS + timeout_s))
for i in 0 1; do
    url=$([[ $i -eq 0 ]] && echo "$a" || echo "$b")
    until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/readyz") == 200 ]]; do
        kill -0 "${pids[$i]}" 2>/dev/null || fail "instance $url exited before it was ready"
        ((SECONDS < deadline)) || fail "instance $url not ready within ${timeout_s}s"
        sleep 0.2
    done
done
step "both instances answer GET /readyz 200"

# json_field FIELD: prints FIELD of the JSON object on stdin (compact JSON for true/false).
json_field() {
    python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print(json.dumps(v) if isinstance(v, bool) or v is None else v)' "$1"
}

# 4. Issue on A.
response=$(curl -sS --fail-with-body --max-time 10 -u "$client_id:$client_secret" \
    -d grant_type=client_credentials "$a/oauth/token") || fail "token request on A: $response"
token=$(json_field access_token <<<"$response") || fail "token response on A is not JSON: $response"
[[ -n "$token" && "$token" != null ]] || fail "no access_token in the response of A: $response"
step "A issued a client_credentials access token"

# 5. Introspect on B: active, and naming the shared issuer.
response=$(curl -sS --fail-with-body --max-time 10 -u "$client_id:$client_secret" \
    --data-urlencode "token=$token" "$b/oauth/introspect") || fail "introspection on B: $response"
[[ $(json_field active <<<"$response") == true ]] || fail "B says A's token is not active: $response"
[[ $(json_field iss <<<"$response") == "$issuer" ]] || fail "B answers another issuer: $response"
step "B introspects A's token: \"active\":true, iss $issuer"

# 6. Revoke on B.
status=$(curl -sS -o "$work/revoke.out" -w '%{http_code}' --max-time 10 -u "$client_id:$client_secret" \
    --data-urlencode "token=$token" "$b/oauth/revoke") || fail "revocation request on B failed"
[[ "$status" == 200 ]] || fail "revocation on B answered $status: $(cat "$work/revoke.out")"
step "B revoked the token (200)"

# 7. Introspect on A: inactive.
response=$(curl -sS --fail-with-body --max-time 10 -u "$client_id:$client_secret" \
    --data-urlencode "token=$token" "$a/oauth/introspect") || fail "introspection on A: $response"
[[ $(json_field active <<<"$response") == false ]] || fail "A still says the revoked token is active: $response"
step "A introspects the revoked token: \"active\":false"
