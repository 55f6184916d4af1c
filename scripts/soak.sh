#!/usr/bin/env bash
# The full soak: 100,000 exchanges (or $1) against a throwaway HAProxy in one process, checking
# that descriptors and memory stay flat. CI runs the same test with a smaller count.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_haproxy
export PATH="$PATH:/usr/sbin"
SOCKCTL_REQUIRE_HAPROXY=1 SOCKCTL_SOAK_COUNT="${1:-100000}" \
    cargo test --release --test soak -- --nocapture
