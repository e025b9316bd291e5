#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server, then stop the server and delete it.
#
#   scripts/pg-test-server.sh [--optional] COMMAND [ARGS...]
#
# Installs Debian's `postgresql` package when no server binaries are found (needs root and
# apt-get), initialises a cluster in a temporary folder, starts it on a free loopback port
# (no network listener beyond 127.0.0.1; its unix socket stays in the temporary folder),
# creates the database `placements_test`, and runs COMMAND with
#   TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/placements_test
# in its environment. The exit status is COMMAND's. Settings favour speed over durability
# (fsync off): the data is thrown away afterwards.
#
# Exit status 3 means PostgreSQL is not installed and cannot be installed here; with
# --optional that is only a warning (exit 0), except in CI (CI=true), where it stays an error.
set -euo pipefail

optional=no
if [ "${1:-}" = "--optional" ]; then
    optional=yes
    shift
fi
if [ "$#" -eq 0 ]; then
    echo "usage: $0 [--optional] COMMAND [ARGS...]" >&2
    exit 2
fi

find_bindir() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$initdb" ]; then
        dirname "$initdb"
    fi
}

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "pg-test-server: installing PostgreSQL (Debian package postgresql)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        BINDIR=$(find_bindir)
    fi
fi
if [ -z "$BINDIR" ]; then
    echo "pg-test-server: PostgreSQL is not installed and cannot be installed here" \
         "(install Debian's postgresql package, or run as root with apt-get)" >&2
    if [ "$optional" = yes ] && [ "${CI:-}" != "true" ]; then
        echo "pg-test-server: WARNING: skipping the PostgreSQL run of: $*" >&2
        exit 0
    fi
    exit 3
fi

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/placements-pg.XXXXXX")
DATA="$WORKDIR/data"
SOCKETS="$WORKDIR/sockets"
mkdir -p "$SOCKETS"

# initdb and postgres refuse to run as root: use the postgres account then.
as_db_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$WORKDIR"
fi

PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

stop_server() {
    if [ -f "$DATA/postmaster.pid" ]; then
        as_db_owner "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORKDIR"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

as_db_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C \
    >"$WORKDIR/initdb.log" 2>&1 || { cat "$WORKDIR/initdb.log" >&2; exit 1; }
as_db_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$WORKDIR/server.log" -w -t 60 start -o \
    "-p $PORT -k $SOCKETS -c listen_addresses=127.0.0.1 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { cat "$WORKDIR/server.log" >&2; exit 1; }
"$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres placements_test

export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/placements_test"
echo "pg-test-server: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}')" \
     "at $TEST_DATABASE_URL" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
