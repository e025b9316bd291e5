#!/usr/bin/env bash
# Run a command against a throwaway S3-compatible server (moto's server mode), then stop it.
#
#   scripts/s3-test-server.sh [--optional] COMMAND [ARGS...]
#
# moto comes from PyPI with the test dependencies (`make install-test`); nothing is
# downloaded at run time. Starts it on a free loopback port and runs COMMAND with
#   TEST_S3_ENDPOINT=http://127.0.0.1:PORT
# in its environment. The exit status is COMMAND's. Exit status 3 means moto is missing;
# with --optional that is only a warning (exit 0), except in CI (CI=true).
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

PY=${PYTHON:-.venv/bin/python}
if ! "$PY" -c "import moto.server" >/dev/null 2>&1; then
    echo "s3-test-server: moto is not installed (make install-test installs moto[server])" >&2
    if [ "$optional" = yes ] && [ "${CI:-}" != "true" ]; then
        echo "s3-test-server: WARNING: running without an S3 server: $*" >&2
        exec "$@"
    fi
    exit 3
fi

PORT=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
LOG=$(mktemp "${TMPDIR:-/tmp}/placements-s3.XXXXXX")
"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
S3_PID=$!
stop_server() {
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    rm -f "$LOG"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
    if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" \
        2>/dev/null; then
        break
    fi
    sleep 0.1
done

export TEST_S3_ENDPOINT="http://127.0.0.1:$PORT"
echo "s3-test-server: S3 at $TEST_S3_ENDPOINT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
