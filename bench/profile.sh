#!/usr/bin/env bash
# Profiles sockctl against the floor on workloads 1 (one `show info` from a real HAProxy) and 2
# (a 1 GiB reply from the fast local server, to /dev/null): where the time goes, before tuning.
#
#   bench/profile.sh [--keep]
#
# Prints, for each program: syscalls (strace -c), task clock, page faults and context switches
# (perf stat, when the kernel lets perf count), peak RSS and faults (/usr/bin/time -v); then the
# start-up cost split into its parts by timing, in turns, the C floor (dynamic and static),
# the same exchange in Rust with std only (bench/tools floor-rs) and sockctl (and its static
# musl build, when that target is installed). Needs strace and /usr/bin/time; perf is optional.
set -euo pipefail
cd "$(dirname "$0")/.."
script=bench/profile.sh
. bench/lib.sh
keep=0
[ "${1:-}" = --keep ] && keep=1

require cargo="a Rust toolchain (https://rustup.rs)" cc="apt-get install gcc" \
    haproxy="apt-get install haproxy" strace="apt-get install strace" /usr/bin/time="apt-get install time"
have_perf=0
perf stat -e task-clock true >/dev/null 2>&1 && have_perf=1
[ $have_perf = 1 ] || say "note: perf cannot count here (apt-get install linux-perf, or lower kernel.perf_event_paranoid); its lines are skipped"
build
musl=x86_64-unknown-linux-musl
variants=()
if rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
    cargo build --release --quiet --target "$musl"
    variants+=("target/$musl/release/sockctl")
fi
floor_static=""
if cc -O2 -static -o bench/build/floor-static bench/floor.c 2>/dev/null; then
    floor_static=bench/build/floor-static
fi
make_temp sockctl-profile
start_reply_server
start_haproxy h200 200
admin=$ha_dir/admin.sock

section() { printf '\n### %s\n\n' "$*"; }

# profile LABEL PROGRAM ARGS...
profile() {
    local label=$1
    shift
    printf '%s\n' "- $label"
    strace -f -c -S calls -o "$T/strace.txt" "$@" >/dev/null
    awk '$NF == "total" { total = $4 }
         /^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" && n < 6 {
             top = top sprintf("%s%s %s", (n++ ? ", " : ""), $NF, $4) }
         END { print "  strace -c: " total " syscalls; most called: " top }' "$T/strace.txt"
    if [ $have_perf = 1 ]; then
        local events=task-clock,page-faults,context-switches
        if perf stat -e 'syscalls:sys_enter_ppoll' true >/dev/null 2>&1; then
            events+=",syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_ppoll,syscalls:sys_enter_write"
        fi
        perf stat -r "$runs" -x, -e "$events" "$@" 2>"$T/perf.txt" >/dev/null
        awk -F, '$1 != "" { printf "%s%s%s %s", (n++ ? ", " : "  perf stat (mean of '"$runs"'): "), $1,
            ($2 != "" ? " " $2 : ""), $3 } END { print "" }' "$T/perf.txt"
    fi
    /usr/bin/time -v -o "$T/time.txt" "$@" >/dev/null
    awk -F': ' '/Maximum resident/ { r = $2 } /Minor/ { f = $2 } /Voluntary context/ { v = $2 }
        /Involuntary context/ { i = $2 }
        END { print "  time -v: peak RSS " r " KiB, minor faults " f ", context switches " v " voluntary, " i " involuntary" }' "$T/time.txt"
}

section "workload 1: one 'show info' (perf stat over 200 runs)"
runs=200
profile "floor" "$floor" "$admin" "show info"
[ -z "$floor_static" ] || profile "floor, static" "$floor_static" "$admin" "show info"
profile "floor-rs (Rust, std only)" "$tools/floor-rs" "$admin" "show info"
profile "sockctl" "$sockctl" send "$admin" "show info"
for v in "${variants[@]}"; do profile "sockctl (static musl)" "$v" send "$admin" "show info"; done

section "workload 2: 1 GiB to /dev/null (perf stat over 5 runs)"
runs=5
profile "floor" "$floor" "$T/reply.sock" 1G
profile "sockctl" "$sockctl" send "$T/reply.sock" 1G
for v in "${variants[@]}"; do profile "sockctl (static musl)" "$v" send "$T/reply.sock" 1G; done

section "start-up, split into its parts (spawn-bench, turns of 10 runs, 3 rounds of 300 runs)"
{
    printf 'floor\t\t%s\t%s\tshow info\n' "$floor" "$admin"
    [ -z "$floor_static" ] || printf 'floor, static\t\t%s\t%s\tshow info\n' "$floor_static" "$admin"
    printf 'floor-rs\t\t%s\t%s\tshow info\n' "$tools/floor-rs" "$admin"
    printf 'sockctl\t\t%s\tsend\t%s\tshow info\n' "$sockctl" "$admin"
    for v in "${variants[@]}"; do printf 'sockctl (static musl)\t\t%s\tsend\t%s\tshow info\n' "$v" "$admin"; done
    printf 'sockctl --version\t\t%s\t--version\n' "$sockctl"
} >"$T/startup.spec"
for r in 1 2 3; do
    alive
    "$tools/spawn-bench" --warmup 20 --runs 300 --block 10 --json "$T/startup.$r.json" "$T/startup.spec" 2>/dev/null
done
"${PYTHON:-python3}" - "$T" <<'PY'
import json, statistics, sys
rounds = [{r["command"]: r for r in json.load(open(f"{sys.argv[1]}/startup.{i}.json"))["results"]} for i in (1, 2, 3)]
print("| program | median | × floor (median of rounds) |")
print("|---|---:|---:|")
for name in rounds[0]:
    med = statistics.median(t for rnd in rounds for t in rnd[name]["times"])
    ratio = statistics.median(rnd[name]["median"] / rnd["floor"]["median"] for rnd in rounds)
    print(f"| {name} | {med * 1000:.3f} ms | {ratio:.2f} |")
PY
