#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (tests/e2e); never downloads
# a browser build of its own. Installs with apt-get when run as root; otherwise says what to do.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: installing Debian's chromium for the browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >&2
    exit 0
fi
echo "ensure-chromium: chromium is missing; install it (sudo apt-get install chromium)." \
     "The browser tests are skipped without it, except in CI." >&2
