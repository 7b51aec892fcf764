#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the `postgres`-marked tests.
#
# Usage (CI):  eval "$(scripts/ci-postgres.sh)"
#
# Installs PostgreSQL with apt-get when no server binaries are found, creates a fresh
# cluster under $PG_CI_DIR (default /tmp/repurchase-ci-postgres), starts it on 127.0.0.1:$PG_CI_PORT
# (default 54329), creates the database `repurchase_test` and prints one line on stdout:
#   export REPURCHASE_TEST_POSTGRES_URL=postgresql+psycopg://repurchase@127.0.0.1:54329/repurchase_test
# Everything else goes to stderr, so `eval` sees only that line. Running it again restarts the
# cluster from scratch. Stop it with: pg_ctl -D "$PG_CI_DIR/data" stop (as the cluster owner).
set -euo pipefail

PG_CI_DIR="${PG_CI_DIR:-/tmp/repurchase-ci-postgres}"
PG_CI_PORT="${PG_CI_PORT:-54329}"
PG_CI_DB="${PG_CI_DB:-repurchase_test}"
PG_CI_USER="${PG_CI_USER:-repurchase}"

log() { echo "ci-postgres: $*" >&2; }

find_bindir() {
    local candidate
    for candidate in /usr/lib/postgresql/*/bin; do
        if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
            echo "$candidate"
        fi
    done | sort -V | tail -n 1
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

BINDIR="$(find_bindir)"
if [ -z "$BINDIR" ]; then
    log "installing PostgreSQL"
    as_root apt-get update >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y postgresql >&2
    BINDIR="$(find_bindir)"
fi
[ -n "$BINDIR" ] || { log "no PostgreSQL server binaries found"; exit 1; }

# initdb refuses to run as root: run the server as the `postgres` system user then.
if [ "$(id -u)" -eq 0 ]; then
    OWNER=postgres
    run_owner() { runuser -u "$OWNER" -- "$@"; }
else
    OWNER="$(id -un)"
    run_owner() { "$@"; }
fi

DATA="$PG_CI_DIR/data"
if [ -f "$DATA/postmaster.pid" ]; then
    run_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast stop >&2 || true
fi
rm -rf "$PG_CI_DIR"
mkdir -p "$PG_CI_DIR"
chown "$OWNER" "$PG_CI_DIR"

log "initdb in $DATA ($BINDIR)"
# trust authentication is acceptable only because the server listens on loopback alone and
# lives for one CI run.
run_owner "$BINDIR/initdb" -D "$DATA" -U "$PG_CI_USER" --auth=trust -E UTF8 >&2
run_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$PG_CI_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_CI_PORT -c unix_socket_directories=$PG_CI_DIR" \
    start >&2
run_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PG_CI_PORT" -U "$PG_CI_USER" "$PG_CI_DB" >&2
log "PostgreSQL ready on 127.0.0.1:$PG_CI_PORT, database $PG_CI_DB"

URL="postgresql+psycopg://$PG_CI_USER@127.0.0.1:$PG_CI_PORT/$PG_CI_DB"
export REPURCHASE_TEST_POSTGRES_URL="$URL"
echo "export REPURCHASE_TEST_POSTGRES_URL=$URL"
