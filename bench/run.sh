#!/usr/bin/env bash
# Benchmarks sockctl side by side with the tools people use instead (see BENCHMARKS.md).
#
#   bench/run.sh                full run (about 12 minutes): checks that every peer gets the
#                               same bytes, times everything, and rewrites the results part of
#                               BENCHMARKS.md
#   bench/run.sh --quick        a few seconds: the correctness checks only, on smaller replies
#                               and fewer commands (bench/memory.sh --quick included: every
#                               path ends as it should against a flooding peer); times
#                               nothing, judges nothing, writes nothing
#   bench/run.sh --output FILE  write the results into FILE instead of BENCHMARKS.md
#   bench/run.sh --keep         keep the temp dir (configs, logs, raw JSON) for a look
#
# It starts its own throwaway HAProxy instances and a fast local reply server in a temp dir and
# stops them on exit. It installs nothing: it says what is missing, and stops if that is
# essential (cargo, cc, python3, haproxy, git; and hyperfine and /usr/bin/time for a full run).
# Every figure it reports is a ratio between peers measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
script=bench/run.sh
. bench/lib.sh

quick=0
keep=0
output=BENCHMARKS.md
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --output)
        output=${2:?--output needs a file}
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "$script: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

require cargo="a Rust toolchain (https://rustup.rs)" cc="apt-get install gcc" \
    python3="apt-get install python3" haproxy="apt-get install haproxy" git="apt-get install git"
[ $quick = 1 ] || require hyperfine="apt-get install hyperfine" /usr/bin/time="apt-get install time"
optional_tools
pick_python
build
musl=x86_64-unknown-linux-musl
sockctl_musl=""
if [ $quick = 0 ] && rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
    say "building the static musl variant..."
    cargo build --release --quiet --target "$musl"
    sockctl_musl=target/$musl/release/sockctl
fi

make_temp sockctl-bench
R=$T/results
mkdir -p "$R"
start_reply_server

# ---------------------------------------------------------------------------------------------
# Recording, for bench/report.py: facts.tsv, commands.tsv (workload, name, exact command),
# benches.tsv (how each was timed), skips.tsv, rss.tsv, checks.txt, and the JSON of every
# timing round.

record_skip() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$R/skips.tsv"; }
fact() { printf '%s\t%s\n' "$1" "$2" >>"$R/facts.tsv"; }
check_ok() { printf 'ok    %s\n' "$*" | tee -a "$R/checks.txt" >&2; }
check_fail() {
    printf 'FAIL  %s\n' "$*" | tee -a "$R/checks.txt" >&2
    failures=$((failures + 1))
}
failures=0
mark=0
# all_ok MESSAGE: reports success of the checks since the last `mark=$failures`, if none failed.
all_ok() { if [ "$failures" = "$mark" ]; then check_ok "$@"; fi; }

list_names() {
    local all
    all=$(printf '%s, ' "${names[@]}")
    printf '%s' "${all%, }"
}

# shq ARG: ARG quoted for sh only if it needs it.
shq() {
    case $1 in
    *[!A-Za-z0-9_./:@=+-]* | "") printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}

# add_peer NAME STDIN PROGRAM ARGS...: appends to names, stdins (a file or empty), argvs (the
# argument vector, tab-separated) and cmds (the same as a shell command). Shell commands start
# with `exec` so that the shell hyperfine runs them in replaces itself instead of forking: what
# is left after hyperfine subtracts the shell's start-up is the peer alone.
add_peer() {
    local name=$1 stdin=$2 cmd="exec" argv="" arg
    shift 2
    for arg in "$@"; do
        cmd+=" $(shq "$arg")"
        argv+="${argv:+$'\t'}$arg"
    done
    [ -z "$stdin" ] || cmd+=" < $stdin"
    names+=("$name")
    stdins+=("$stdin")
    argvs+=("$argv")
    cmds+=("$cmd")
}

# peers WORKLOAD ADDR CMD CMDFILE: the peers available for WORKLOAD sending CMD to ADDR; CMDFILE
# holds CMD and a newline, for the tools that read it from stdin.
peers() {
    local w=$1 addr=$2 cmd=$3 cmdfile=$4
    names=() stdins=() argvs=() cmds=()
    add_peer floor "" "$floor" "$addr" "$cmd"
    add_peer sockctl "" "$sockctl" send "$addr" "$cmd"
    if [ -n "$sockctl_musl" ]; then
        add_peer "sockctl (static musl)" "" "$sockctl_musl" send "$addr" "$cmd"
    fi
    if [ $have_nc = 1 ]; then
        add_peer "nc -N" "$cmdfile" nc -N -U "$addr"
    else record_skip "$w" "nc -N" "skipped: OpenBSD nc not installed"; fi
    if [ $have_socat = 1 ]; then
        add_peer socat "$cmdfile" socat stdio "UNIX-CONNECT:$addr"
    else record_skip "$w" socat "skipped: socat not installed"; fi
    add_peer python "" "$py" "$client" "$addr" "$cmd"
}

# describe TAG ROUNDS WARMUP RUNS TOOL OPTIONS: records the commands and how they were timed.
describe() {
    local i
    for i in "${!names[@]}"; do
        printf '%s\t%s\t%s\n' "$1" "${names[$i]}" "${cmds[$i]}" >>"$R/commands.tsv"
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$R/benches.tsv"
}

# bench TAG ROUNDS WARMUP RUNS [hyperfine options...]: times names/cmds with hyperfine ROUNDS
# times (a burst of load from elsewhere then spoils one round, not every ratio). A round that
# fails because HAProxy was stopped from outside is run again on a restarted HAProxy.
bench() {
    local tag=$1 rounds=$2 warmup=$3 runs=$4 r i try args
    shift 4
    describe "$tag" "$rounds" "$warmup" "$runs" hyperfine "$*"
    for r in $(seq "$rounds"); do
        args=()
        for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
        for try in 1 2 3; do
            say "== $tag, round $r/$rounds"
            alive
            if hyperfine --style basic --warmup "$warmup" --runs "$runs" "$@" \
                --export-json "$R/$tag.round$r.json" "${args[@]}" >>"$T/hyperfine.log" 2>&1; then
                continue 2
            fi
            tail -n 5 "$T/hyperfine.log" >&2
            kill -0 "$ha_pid" 2>/dev/null && break
        done
        die "hyperfine failed for $tag"
    done
}

# bench_spawn TAG ROUNDS WARMUP RUNS [BLOCK]: the same with bench/tools' spawn-bench, which
# starts each program directly (no shell), gives it its standard input from a file, and has the
# peers take turns BLOCK runs at a time (10 by default: run by run, a Python interpreter's
# start-up would slow down whatever runs after it, and bring every ratio closer to 1).
bench_spawn() {
    local tag=$1 rounds=$2 warmup=$3 runs=$4 block=${5:-10} r i try
    describe "$tag" "$rounds" "$warmup" "$runs" spawn-bench "$block"
    : >"$T/$tag.spec"
    for i in "${!names[@]}"; do
        printf '%s\t%s\t%s\n' "${names[$i]}" "${stdins[$i]}" "${argvs[$i]}" >>"$T/$tag.spec"
    done
    for r in $(seq "$rounds"); do
        for try in 1 2 3; do
            say "== $tag, round $r/$rounds"
            alive
            if "$tools/spawn-bench" --warmup "$warmup" --runs "$runs" --block "$block" \
                --json "$R/$tag.round$r.json" "$T/$tag.spec" >>"$T/spawn-bench.log" 2>&1; then
                continue 2
            fi
            tail -n 5 "$T/spawn-bench.log" >&2
            kill -0 "$ha_pid" 2>/dev/null && break
        done
        die "spawn-bench failed for $tag"
    done
}

# rss LABEL COMMAND: the largest "Maximum resident set size" of three runs, in KiB. The command
# runs under /usr/bin/time directly (its leading `exec` dropped), not through a shell whose own
# memory would count.
rss() {
    local label=$1 cmd=$2 best=0 kib
    for _ in 1 2 3; do
        eval "/usr/bin/time -v -o $T/time.txt ${cmd#exec }" >/dev/null
        kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
        [ "$kib" -gt "$best" ] && best=$kib
    done
    printf '%s\t%s\t%s\n' "$label" "$best" "$cmd" >>"$R/rss.tsv"
}

# same_output WHAT: runs every peer with stdout to a file; the bytes must be the floor's.
same_output() {
    local what=$1 i ref="" sum out=$T/out.check
    mark=$failures
    for i in "${!names[@]}"; do
        sh -c "${cmds[$i]}" >"$out" || {
            check_fail "$what: ${names[$i]} exited with $?"
            continue
        }
        sum=$(cksum <"$out")
        if [ -z "$ref" ]; then ref=$sum; fi
        if [ "$sum" != "$ref" ]; then
            check_fail "$what: ${names[$i]} got $(wc -c <"$out") bytes (cksum ${sum% *}), the floor ${ref#* } (cksum ${ref% *})"
        fi
    done
    rm -f "$out"
    all_ok "$what: ${ref#* } bytes, identical from $(list_names)"
}

# ---------------------------------------------------------------------------------------------
# The machine and the versions.

fact cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
fact cores "$(nproc)"
fact kernel "$(uname -sr)"
fact memory "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
rev=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev + local changes to src"
git diff --quiet HEAD -- bench || rev="$rev + local changes to bench"
fact sockctl "$rev"
fact rustc "$(rustc --version)"
fact cc "$(cc --version | head -n1)"
fact haproxy "$(haproxy -v | head -n1 | sed 's/ - https.*//')"
[ $have_socat = 1 ] && fact socat "$(socat -V | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
[ $have_nc = 1 ] && fact nc "$(nc -h 2>&1 | head -n1)"
fact python "$("$py" --version 2>&1)"
[ $quick = 1 ] || fact hyperfine "$(hyperfine --version)"
fact load_before "$(cut -d' ' -f1-3 /proc/loadavg)"

# Quick mode checks the same paths with smaller replies and fewer commands.
if [ $quick = 1 ]; then
    big=64M big_bytes=$((64 << 20)) socat_n=200 loop_n=1000 reload_servers=2000
else
    big=1G big_bytes=$((1 << 30)) socat_n=500 loop_n=10000 reload_servers=20000
fi
fact big_bytes $big_bytes
fact socat_n $socat_n
fact loop_n $loop_n
fact reload_servers $reload_servers

# Workload 0 is the floor itself: the first peer of every table.

# ---------------------------------------------------------------------------------------------
# Workload 1: one `show info` against a real HAProxy.

say "starting HAProxy with 200 servers..."
start_haproxy h200 200
printf 'show info\n' >"$T/show-info.cmd"
printf 'help\n' >"$T/help.cmd"

# `help` is the same bytes every time (`show info` is not: uptime, counters).
peers w1 "$ha_dir/admin.sock" help "$T/help.cmd"
same_output "w1 'help' reply"
peers w1 "$ha_dir/admin.sock" "show info" "$T/show-info.cmd"
mark=$failures
for i in "${!names[@]}"; do
    lines=$(sh -c "${cmds[$i]}" | grep -c '^[A-Za-z_]*: ') || true
    first=$(sh -c "${cmds[$i]}" | head -n1)
    [ "$lines" -gt 50 ] && [ "$first" = "Name: HAProxy" ] ||
        check_fail "w1 'show info': ${names[$i]} got $lines fields, first line '$first'"
done
all_ok "w1 'show info': a complete reply from $(list_names)"
if [ $quick = 0 ]; then
    bench_spawn w1 3 20 200
    # Cross-check with hyperfine itself, without a shell: only for the peers that take the
    # command as an argument (hyperfine 1.15 cannot give a program standard input without one).
    keep_names=() keep_cmds=()
    for i in "${!names[@]}"; do
        if [ -z "${stdins[$i]}" ]; then
            keep_names+=("${names[$i]}")
            keep_cmds+=("${cmds[$i]#exec }")
        fi
    done
    names=("${keep_names[@]}") cmds=("${keep_cmds[@]}")
    bench w1hf 5 20 100 -N
fi

# ---------------------------------------------------------------------------------------------
# Workload 2: a large reply from the fast local server, to /dev/null and to a file.

printf '%s\n' "$big" >"$T/big.cmd"
printf '16M\n' >"$T/16m.cmd"
peers w2 "$T/reply.sock" 16M "$T/16m.cmd"
same_output "w2 16 MiB reply"
peers w2 "$T/reply.sock" "$big" "$T/big.cmd"
mark=$failures
for i in "${!names[@]}"; do
    n=$(sh -c "${cmds[$i]}" | wc -c)
    [ "$n" = "$big_bytes" ] || check_fail "w2 $big reply: ${names[$i]} got $n bytes, not $big_bytes"
done
all_ok "w2 $big reply: $big_bytes bytes through a pipe from $(list_names)"

# to_file: the same peers writing to $out (their shell's redirect), and sockctl's own -o, which
# writes a temporary file beside it, fsyncs it and renames it.
out=$T/out.file
to_file() {
    local i
    for i in "${!names[@]}"; do cmds[$i]="${cmds[$i]} > $out"; done
    add_peer "sockctl -o" "" "$sockctl" send -o "$out" "$T/reply.sock" "$big"
}
to_file
mark=$failures
for i in "${!names[@]}"; do
    rm -f "$out"
    sh -c "${cmds[$i]}"
    n=$(wc -c <"$out")
    [ "$n" = "$big_bytes" ] || check_fail "w2 $big to a file: ${names[$i]} wrote $n bytes, not $big_bytes"
done
rm -f "$out"
all_ok "w2 $big to a file: $big_bytes bytes from $(list_names)"

if [ $quick = 0 ]; then
    peers w2 "$T/reply.sock" "$big" "$T/big.cmd"
    bench w2null 3 2 8
    to_file
    bench w2file 2 1 5 --prepare "rm -f $out"
    rm -f "$out"

    say "== peak RSS (/usr/bin/time -v)"
    peers w2 "$T/reply.sock" "$big" "$T/big.cmd"
    to_file
    for i in "${!names[@]}"; do
        case ${names[$i]} in
        *" -o") rss "${names[$i]}, $big to a file" "${cmds[$i]}" ;;
        *) rss "${names[$i]}, $big" "${cmds[$i]% > *}" ;;
        esac
    done
    rm -f "$out"
    for size in 1K 1M 64M; do
        peers w2 "$T/reply.sock" "$size" ""
        for i in 0 1 2; do
            case ${names[$i]} in floor | sockctl*) rss "${names[$i]}, $size" "${cmds[$i]}" ;; esac
        done
    done
    peers w1 "$ha_dir/admin.sock" "show info" ""
    for i in 0 1 2; do
        case ${names[$i]} in floor | sockctl*) rss "${names[$i]}, show info" "${cmds[$i]}" ;; esac
    done
fi

# ---------------------------------------------------------------------------------------------
# Workload 3: many `set server be/sN weight W` against HAProxy's 200 servers.
#
# Each way gets its own weights, so that the check after it (every server's weight in
# `show servers state` is the last one that way set) cannot pass on another way's work.

weights_file() { # weights_file N OFFSET FILE
    awk -v n="$1" -v k="$2" 'BEGIN { for (i = 0; i < n; i++)
        printf "set server be/s%d weight %d\n", i % 200 + 1, (i * 7 + k * 31) % 256 + 1 }' >"$3"
}
check_weights() { # check_weights WHAT FILE
    local got
    got=$("$floor" "$ha_dir/admin.sock" "show servers state be" |
        awk 'FNR == NR { split($3, a, "/"); w[a[2]] = $5; next }
             $2 == "be" { n++; if (w[$4] != "" && w[$4] != $8) bad++ }
             END { print n + 0, bad + 0 }' "$2" -)
    if [ "$got" = "200 0" ]; then check_ok "w3 $1: all 200 weights as set"; else
        check_fail "w3 $1: (servers, wrong weights) = ($got)"
    fi
}

admin=$ha_dir/admin.sock
names=() cmds=() files=()
if [ $have_socat = 1 ]; then
    weights_file "$socat_n" 1 "$T/cmds-socat.txt"
    names+=("socat loop")
    cmds+=("while IFS= read -r c; do echo \"\$c\" | socat stdio UNIX-CONNECT:$admin; done < $T/cmds-socat.txt")
    files+=("$T/cmds-socat.txt")
else record_skip w3 "socat loop" "skipped: socat not installed"; fi
weights_file "$loop_n" 2 "$T/cmds-python.txt"
names+=("python loop")
cmds+=("exec $py $client $admin - < $T/cmds-python.txt")
files+=("$T/cmds-python.txt")
weights_file "$loop_n" 3 "$T/cmds-sockctl.txt"
names+=("sockctl send -")
cmds+=("exec $sockctl send $admin - < $T/cmds-sockctl.txt")
files+=("$T/cmds-sockctl.txt")
if [ $have_nc = 1 ]; then
    # What HAProxy itself allows: every command pipelined on one connection in prompt mode.
    weights_file "$loop_n" 5 "$T/cmds-pipelined.txt"
    sed -i '1i prompt' "$T/cmds-pipelined.txt"
    names+=("pipelined, nc -N")
    cmds+=("exec nc -N -U $admin < $T/cmds-pipelined.txt")
    files+=("$T/cmds-pipelined.txt")
fi
if "$sockctl" haproxy exec --help 2>/dev/null | grep -q -- '--batch'; then
    # The floor of a batch that stops at its first failure (bench/lockstep.c): the same
    # exchange (prompt mode, severity tags, one command at a time, stop at a failed reply) with
    # blocking writes and reads.
    weights_file "$loop_n" 7 "$T/cmds-lockstep.txt"
    names+=("lockstep floor")
    cmds+=("exec $lockstep $admin $T/cmds-lockstep.txt")
    files+=("$T/cmds-lockstep.txt")
    weights_file "$loop_n" 4 "$T/cmds-batch.txt"
    names+=("sockctl batch")
    cmds+=("exec $sockctl haproxy exec -s $admin --batch $T/cmds-batch.txt")
    files+=("$T/cmds-batch.txt")
    # Without --keep-going a failure must stop the batch before the next command is sent, so
    # commands go one at a time; with it they are written ahead (see docs/many.md).
    weights_file "$loop_n" 6 "$T/cmds-batch-kg.txt"
    names+=("sockctl batch --keep-going")
    cmds+=("exec $sockctl haproxy exec -s $admin --keep-going --batch $T/cmds-batch-kg.txt")
    files+=("$T/cmds-batch-kg.txt")
else record_skip w3 "sockctl batch" "skipped: not implemented yet"; fi
for i in "${!names[@]}"; do
    alive
    replies=$(sh -c "${cmds[$i]}" | wc -l)
    check_weights "${names[$i]} ($(grep -c "^set " "${files[$i]}") commands, $replies reply lines)" "${files[$i]}"
done
# The two that stop at the first failure must not send the command after it.
weight_of() { "$floor" "$admin" "show servers state be" | awk -v s="$1" '$2 == "be" && $4 == s { print $8 }'; }
printf 'set server be/s1 weight 11\nset server be/nosuch weight 1\nset server be/s2 weight 77\n' >"$T/cmds-fail.txt"
for i in "${!names[@]}"; do
    case ${names[$i]} in "lockstep floor" | "sockctl batch") ;; *) continue ;; esac
    "$floor" "$admin" "set server be/s2 weight 5" >/dev/null
    code=0
    sh -c "${cmds[$i]% *} $T/cmds-fail.txt" >/dev/null 2>&1 || code=$?
    if [ "$code" != 0 ] && [ "$(weight_of s1)/$(weight_of s2)" = 11/5 ]; then
        check_ok "w3 ${names[$i]}: stops at a failed command (exit $code), the next one not sent"
    else
        check_fail "w3 ${names[$i]}: exit $code on a failed command, weights s1/s2 $(weight_of s1)/$(weight_of s2), not 11/5"
    fi
done
if [ $quick = 0 ]; then
    # The socat loop takes ~5 ms a command: it runs on $socat_n commands, scaled in the report.
    bench w3 3 1 5
    # The batch that stops at its first failure against its floor, in turns run by run: each
    # run is one round trip per command, which moves with the load from elsewhere, and
    # hyperfine's runs of one way back to back would catch a burst of it in one row only.
    if [ -f "$T/cmds-batch.txt" ]; then
        names=() stdins=() argvs=() cmds=()
        add_peer "lockstep floor" "" "$lockstep" "$admin" "$T/cmds-lockstep.txt"
        add_peer "sockctl batch" "" "$sockctl" haproxy exec -s "$admin" --batch "$T/cmds-batch.txt"
        bench_spawn w3lockstep 5 2 10 1
    fi
fi
stop_haproxy

# ---------------------------------------------------------------------------------------------
# Workload 4: `reload --save-state` on a backend of 20,000 servers, beside the time HAProxy
# itself takes to load that configuration (`haproxy -c`) and a socat script doing the same job
# unvalidated; and saving the state alone (`show servers state`, 20,000 lines) with each peer.

say "starting HAProxy with $reload_servers servers..."
start_haproxy "h$reload_servers" "$reload_servers"
admin=$ha_dir/admin.sock
printf 'show servers state\n' >"$T/state.cmd"
peers w4 "$admin" "show servers state" "$T/state.cmd"
mark=$failures
for i in "${!names[@]}"; do
    n=$(sh -c "${cmds[$i]}" | grep -c '^[0-9]* be [0-9]* s') || true
    [ "$n" = "$reload_servers" ] || check_fail "w4 state: ${names[$i]} got $n server lines"
done
all_ok "w4 'show servers state': $reload_servers server lines from $(list_names)"
fact state_bytes "$(sh -c "${cmds[0]}" | wc -c)"
state=$T/state.file
for i in "${!names[@]}"; do cmds[$i]="${cmds[$i]} > $state"; done
add_peer "sockctl -o" "" "$sockctl" send -o "$state" "$admin" "show servers state"
reload_cmd=""
if "$sockctl" haproxy reload --help >/dev/null 2>&1; then
    reload_cmd="exec $sockctl haproxy reload --save-state --state-file $ha_dir/haproxy.state -s $ha_dir/master.sock --config $ha_dir/haproxy.cfg"
    rm -f "$ha_dir/haproxy.state"
    sh -c "$reload_cmd" >/dev/null
    n=$(grep -c '^[0-9]* be [0-9]* s' "$ha_dir/haproxy.state" 2>/dev/null) || true
    if [ "$n" = "$reload_servers" ]; then check_ok "w4 reload --save-state: $n server lines saved"; else
        check_fail "w4 reload --save-state: $n server lines saved, not $reload_servers"
    fi
    if [ $have_socat = 1 ]; then
        rm -f "$ha_dir/haproxy.state"
        alive
        timeout 120 bench/reload-socat.sh "$admin" "$ha_dir/master.sock" "$ha_dir/haproxy.state" ||
            check_fail "w4 socat script: exit code $?"
        n=$(grep -c '^[0-9]* be [0-9]* s' "$ha_dir/haproxy.state" 2>/dev/null) || true
        if [ "$n" = "$reload_servers" ]; then check_ok "w4 socat script: $n server lines saved, reloaded"; else
            check_fail "w4 socat script: $n server lines saved, not $reload_servers"
        fi
    fi
else record_skip w4 "sockctl reload --save-state" "skipped: not implemented yet"; fi
if [ $quick = 0 ]; then
    bench w4state 3 1 10 --prepare "rm -f $state"
    if [ -n "$reload_cmd" ]; then
        names=("haproxy -c" "sockctl reload --save-state")
        cmds=("exec haproxy -q -c -f $ha_dir/haproxy.cfg" "$reload_cmd")
        if [ $have_socat = 1 ]; then
            names+=("socat script")
            cmds+=("exec bench/reload-socat.sh $admin $ha_dir/master.sock $ha_dir/haproxy.state")
        fi
        bench w4reload 3 1 5
    fi
fi
stop_haproxy
fact ha_restarts "$ha_restarts"

# ---------------------------------------------------------------------------------------------
# Workload 5: the size of the stripped release binary, and of the static musl build.

size_of() { stat -c %s "$1"; }
fact size_sockctl "$(size_of "$sockctl")"
fact size_sockctl_kind "$(file -b "$sockctl" 2>/dev/null | grep -o 'stripped\|not stripped' || true)"
fact size_floor "$(size_of "$floor")"
if [ -n "$sockctl_musl" ]; then
    fact size_musl "$(size_of "$sockctl_musl")"
    check_ok "w5 static musl build: $(size_of "$sockctl_musl") bytes"
elif [ $quick = 1 ]; then
    fact size_musl "not built in quick mode"
else
    fact size_musl "not measured: the $musl target is not installed (rustup target add $musl)"
fi
# The budget of the release binary: 2 MiB (the live view's terminal handling included).
size_budget=$((2 * 1024 * 1024))
if [ "$(size_of "$sockctl")" -le $size_budget ]; then
    check_ok "w5 release binary: $(size_of "$sockctl") bytes (budget $size_budget)"
else
    check_fail "w5 release binary: $(size_of "$sockctl") bytes, over the budget of $size_budget"
fi
fact load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------

[ $failures = 0 ] || die "$failures check(s) failed; no results written"
# Redis and BIRD against redis-cli and birdc (bench/services.sh): its checks only with --quick,
# otherwise timed too, into its own section of $output.
if [ $quick = 1 ]; then bench/services.sh --quick; else bench/services.sh --output "$output"; fi
if [ $quick = 1 ]; then
    # Every path ends at its limit (or streams) against a flooding peer: the exit codes only.
    bench/memory.sh --quick
    say "quick: every check passed (nothing timed; run without --quick for the figures)"
    exit 0
fi
"$py" bench/report.py "$R" "$T" "$py" >"$T/results.md"
"$py" bench/report.py --splice "$output" "$T/results.md"
say "results written to $output"
# Peak RSS of every path against a flooding peer (its own section, bench/memory.sh).
bench/memory.sh --output "$output"
