#!/bin/sh
# Install what the test suite starts for itself, from Debian's packages, when
# it is missing: PostgreSQL and Redis servers (the storage plugins' tests start
# private servers on loopback) and Chromium (the web plugin's browser tests).
# Nothing is started here; the tests start and stop their own servers, and fail
# naming the package when one is missing.
set -eu

missing=""
ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || missing="$missing postgresql"
command -v redis-server > /dev/null 2>&1 || missing="$missing redis-server"
[ -x /usr/bin/chromium ] || missing="$missing chromium"

if [ -z "$missing" ]; then
    exit 0
fi
echo "installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo > /dev/null 2>&1; then
    sudo="sudo"
else
    echo "cannot install$missing: not root and no sudo; install them and run again" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q > /dev/null
# shellcheck disable=SC2086  # the package names are meant to split
$sudo apt-get install -y -q --no-install-recommends $missing > /dev/null
