#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each; CI runs a short smoke):
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Seeds come from the recorded HAProxy replies in tests/fixtures and from fuzz/seeds. A crash,
# a hang (over 5 s for one input) or an allocation over 256 MB fails the run; the input that
# caused it is left in fuzz/artifacts/TARGET/ to be added to fuzz/seeds as a regression.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(address servers_state stat info proc_list patterns table sess cert config batch framer units)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)..." >&2
    cargo install cargo-fuzz --locked >&2
fi
# libFuzzer instrumentation needs unstable compiler flags; this lets the stable toolchain
# accept them for the fuzz build only.
export RUSTC_BOOTSTRAP=1

seed() {
    local target=$1 dir=fuzz/corpus/$1
    mkdir -p "$dir"
    [ -d "fuzz/seeds/$target" ] && cp -n fuzz/seeds/"$target"/* "$dir"/ 2>/dev/null || true
    local pattern=
    case $target in
        servers_state) pattern='*servers_state*.reply' ;;
        stat) pattern='*show_stat*.reply' ;;
        info) pattern='*show_info*.reply' ;;
        proc_list) pattern='*show_proc*.reply' ;;
        patterns) pattern='*show_[ma][ac][pl]*.reply' ;;
        table) pattern='*show_table*.reply' ;;
        sess) pattern='*show_sess*.reply' ;;
        cert) pattern='*show_ssl_cert*.reply' ;;
        framer) pattern='*.rep' ;;
    esac
    if [ -n "$pattern" ]; then
        find tests/fixtures/haproxy tests/fixtures/prompt -name "$pattern" | while read -r f; do
            cp -n "$f" "$dir/$(echo "$f" | tr / _)"
        done
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
    seed "$target"
    echo "== fuzz $target for ${seconds}s" >&2
    # -malloc_limit_mb catches any single oversized allocation; the RSS limit is loose because
    # the address sanitizer keeps freed memory in quarantine.
    status=0
    cargo fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=64 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|panicked|SUMMARY' "$log" >&2 || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzzing: all targets ran ${seconds}s without a crash, hang or oversized allocation" >&2
