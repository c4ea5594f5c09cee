#!/bin/sh
# Installs the Debian packages minispark needs to build and test, and only
# the ones that are missing, so a second run costs nothing. `setup.sh test`
# also installs what only the tests use: chromium, which loads the web UI,
# clang-format, which checks the layout, and iproute2, whose `ip netns` the
# LAN test uses; `setup.sh bench` also Node.js.
set -eu

PKGS="build-essential cmake pkg-config libzmq3-dev libmsgpack-dev zlib1g-dev
libjansson-dev libxxhash-dev libdeflate-dev liblz4-dev libmicrohttpd-dev libsodium-dev
libcriterion-dev python3"
[ "${1:-}" = test ] && PKGS="$PKGS chromium clang-format git iproute2"
# bench/compare.mjs runs DuckDB from the npm registry under Node.js.
[ "${1:-}" = bench ] && ! command -v node >/dev/null && PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
