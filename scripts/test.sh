#!/usr/bin/env bash
# Runs every test: unit, property and integration tests (the real-HAProxy ones included: they
# fail rather than skip here), every example of the documentation, and the packaging (static
# binary, pip wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_haproxy
export PATH="$PATH:/usr/sbin"
SOCKCTL_REQUIRE_HAPROXY=1 cargo test --features man "$@"
./scripts/test-docs.sh
./scripts/test-packaging.sh
