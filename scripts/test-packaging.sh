#!/usr/bin/env bash
# Packaging as a user meets it: the static binary (when the musl target is installed) and the
# pip wheel installed into a fresh virtualenv. Prints the sizes for the release notes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_tools "the packaging tests" python3:python3 py.ensurepip:python3-venv file:file
musl=x86_64-unknown-linux-musl

if ls "$(rustc --print target-libdir --target $musl 2>/dev/null)"/libstd-* >/dev/null 2>&1; then
    make -s static >/dev/null
    bin=target/static/sockctl
    file "$bin" | grep -q 'static' || { echo "not static: $(file "$bin")" >&2; exit 1; }
    if ldd "$bin" 2>&1 | grep -q '=>'; then
        echo "static binary links shared libraries:" >&2; ldd "$bin" >&2; exit 1
    fi
    "$bin" --version >/dev/null
    echo "static binary: $(stat -c %s "$bin") bytes ($(file -b "$bin" | cut -d, -f1-2))"
else
    echo "skipping the static build: run 'rustup target add $musl' to enable it"
fi

venv=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-venv.XXXXXX")
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip >/dev/null
"$venv/bin/pip" wheel --quiet . --no-deps -w "$venv/wheels"
wheel=$(ls "$venv"/wheels/sockctl-*.whl)
"$venv/bin/pip" install --quiet "$wheel"
version=$("$venv/bin/sockctl" --version)
case $version in
    "sockctl $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"*) ;;
    *) echo "unexpected version from the wheel's binary: $version" >&2; exit 1 ;;
esac
echo "wheel: $(basename "$wheel") $(stat -c %s "$wheel") bytes; installed binary says: $version"
