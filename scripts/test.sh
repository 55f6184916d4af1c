#!/usr/bin/env bash
# Runs every test, the real-HAProxy ones included (they fail rather than skip here).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_haproxy
export PATH="$PATH:/usr/sbin"
SOCKCTL_REQUIRE_HAPROXY=1 cargo test "$@"
