#!/usr/bin/env bash
# Run a command against a throwaway Redis server, then stop it.
#
#   scripts/redis-test-server.sh [--optional] COMMAND [ARGS...]
#
# Installs Debian's `redis-server` when it is missing (needs root and apt-get), starts it on a
# free loopback port with no persistence, and runs COMMAND with
#   TEST_REDIS_URL=redis://127.0.0.1:PORT/0
# in its environment. The exit status is COMMAND's. Exit status 3 means Redis cannot be had
# here; with --optional that is only a warning (exit 0), except in CI (CI=true).
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

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis-test-server: installing Redis (Debian package redis-server)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq redis-server >&2
    fi
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-test-server: Redis is not installed and cannot be installed here" \
         "(install Debian's redis-server package, or run as root with apt-get)" >&2
    if [ "$optional" = yes ] && [ "${CI:-}" != "true" ]; then
        echo "redis-test-server: WARNING: running without Redis: $*" >&2
        exec "$@"
    fi
    exit 3
fi

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/placements-redis.XXXXXX")
PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORKDIR" \
    --daemonize no --logfile "$WORKDIR/redis.log" &
REDIS_PID=$!
stop_server() {
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    rm -rf "$WORKDIR"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" \
        2>/dev/null; then
        break
    fi
    sleep 0.1
done

export TEST_REDIS_URL="redis://127.0.0.1:$PORT/0"
echo "redis-test-server: Redis at $TEST_REDIS_URL" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
