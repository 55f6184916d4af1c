#!/usr/bin/env bash
# Peak memory (RSS) of every path of sockctl against a peer that floods after the handshake
# (BENCHMARKS.md, "Bounded memory"). Not a timed test: one run per path under /usr/bin/time -v.
#
#   bench/memory.sh                1 GiB floods and a 256 MiB `show stat`: prints the table
#   bench/memory.sh --output FILE  also puts the table into FILE between its memory markers
#   bench/memory.sh --quick        a few seconds: 4 MiB floods with --max-bytes 1MiB where a
#                                  reply is held whole; checks the exit codes only, writes nothing
#
# The peer is bench/flood.py (python3). Without /usr/bin/time (apt-get install time) the exit
# codes are still checked and the table says that nothing was measured.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
output=""
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --output)
        output=${2:?--output needs a file}
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "bench/memory.sh: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

say() { echo "bench/memory.sh: $*" >&2; }
command -v python3 >/dev/null || {
    say "python3 is needed (apt-get install python3)"
    exit 1
}
timer=/usr/bin/time
if [ ! -x $timer ]; then
    timer=""
    [ $quick = 1 ] || say "no /usr/bin/time (apt-get install time): exit codes checked, RSS not measured"
fi

cargo build --release --quiet
sockctl=$PWD/target/release/sockctl

T=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-memory.XXXXXX")
flood_pid=""
cleanup() {
    [ -z "$flood_pid" ] || kill "$flood_pid" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

MIB=$((1 << 20))
if [ $quick = 1 ]; then
    size=$((4 * MIB)) stat_size=$MIB held=(--max-bytes 1MiB)
else
    size=$((1024 * MIB)) stat_size=$((256 * MIB)) held=()
fi
python3 bench/flood.py "$T" $size $stat_size >"$T/flood.out" &
flood_pid=$!
for _ in $(seq 100); do
    grep -q ready "$T/flood.out" 2>/dev/null && break
    sleep 0.1
done
grep -q ready "$T/flood.out" || {
    say "the flood server did not start"
    exit 1
}

failures=0
rows=()
# Memory is measured, not time: a loaded machine must not turn a run into a timeout.
slow=(--timeout 300s)
human() { awk -v k="$1" 'BEGIN { if (k >= 1048576) printf "%.2f GiB", k / 1048576; else if (k >= 1024) printf "%.1f MiB", k / 1024; else printf "%d KiB", k }'; }

# case NAME BOUND EXPECTED_EXIT TARGET_KIB STDIN ARGS...: runs sockctl ARGS with STDIN, checks
# its exit code, and records its peak RSS against TARGET_KIB.
case_() {
    local name=$1 bound=$2 expected=$3 target=$4 input=$5
    shift 5
    local code=0 rss="" verdict
    if [ -n "$timer" ]; then
        printf '%b' "$input" | $timer -v -o "$T/time.txt" "$sockctl" "$@" >/dev/null 2>"$T/err" || code=$?
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$T/time.txt")
    else
        printf '%b' "$input" | "$sockctl" "$@" >/dev/null 2>"$T/err" || code=$?
    fi
    # /usr/bin/time reports the command's own exit code as its own.
    if [ "$code" != "$expected" ]; then
        say "FAIL $name: exit $code, expected $expected: $(head -c 400 "$T/err")"
        failures=$((failures + 1))
    else
        say "ok   $name: exit $code${rss:+, peak RSS $(human "$rss")}"
    fi
    local message
    message=$(grep -o 'reply larger than the limit of [0-9]* bytes' "$T/err" | head -1 || true)
    if [ -z "$rss" ]; then
        verdict="not measured"
        rss="–"
    elif [ "$rss" -le "$target" ]; then
        verdict="met"
        rss=$(human "$rss")
    else
        verdict="**not met**"
        rss=$(human "$rss")
    fi
    rows+=("| $name | $bound | $code${message:+ ($message)} | $rss | ≤ $(human "$target") | $verdict |")
}

target=$((16 * 1024))
stat_target=$((3 * stat_size / 1024))
case_ "send, one socket" "streams" 0 $target "" send "${slow[@]}" "$T/raw.sock" x
case_ "send, two sockets (-s A -s B)" "streams; past 256 KiB a socket's output spills to a temporary file" 0 $target "" \
    send "${slow[@]}" -s "$T/raw.sock" -s "$T/raw2.sock" x
case_ "send, two sockets, --json" "64 MiB per socket" 5 $target "" \
    send "${slow[@]}" --json "${held[@]}" -s "$T/raw.sock" -s "$T/raw2.sock" x
passes="streams: past 1 MiB a reply is judged as it passes"
case_ "haproxy exec (stats socket)" "$passes" 0 $target "" \
    haproxy exec "${slow[@]}" -s "$T/stats.sock" 'show info'
case_ "haproxy exec (through the master)" "$passes" 0 $target "" \
    haproxy exec "${slow[@]}" -s "$T/master.sock" 'show info'
case_ "haproxy exec --batch" "$passes" 0 $target 'show info\n' \
    haproxy exec "${slow[@]}" -s "$T/stats.sock" --batch -
case_ "shell, piped" "$passes" 0 $target 'show info\n' \
    shell "${slow[@]}" "$T/stats.sock"
case_ "haproxy exec --json" "64 MiB per reply; past 1 MiB it waits in a temporary file" 5 $target "" \
    haproxy exec "${slow[@]}" --json "${held[@]}" -s "$T/stats.sock" 'show info'
case_ "haproxy stat --json, a $(human $((stat_size / 1024))) \`show stat\`" "512 MiB" 0 $stat_target "" \
    haproxy stat "${slow[@]}" --json -s "$T/stats.sock"
case_ "haproxy stat --json -j 1, two sockets, $(human $((stat_size / 1024))) each" "512 MiB per socket" 0 $stat_target "" \
    haproxy stat "${slow[@]}" --json -j 1 -s "$T/stats.sock" -s "$T/stats2.sock"
case_ "haproxy stat --json, $(human $(((size + MIB) / 1024))) of lines" "512 MiB" 5 $((3 * 512 * 1024)) "" \
    haproxy stat "${slow[@]}" --json "${held[@]}" -s "$T/stat-big.sock"

[ $failures = 0 ] || {
    say "$failures path(s) gave the wrong exit code"
    exit 1
}
if [ $quick = 1 ]; then
    say "quick: every path ends as it should (nothing written)"
    exit 0
fi

table=$T/table.md
{
    echo "<!-- bench/memory.sh results: begin -->"
    echo "Peer: \`bench/flood.py\`, answering the handshake (\`show proc\`, \`prompt\`,"
    echo "\`set severity-output\`) as HAProxy does, then sending $(human $((size / 1024))) of lines"
    echo "(\`show stat\`: a well-formed CSV of $(human $((stat_size / 1024)))). Default limits, output"
    echo "to \`/dev/null\`; $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "| path | bound | exit | peak RSS | target | verdict |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo "<!-- bench/memory.sh results: end -->"
} >"$table"
cat "$table"
if [ -n "$output" ]; then
    python3 - "$output" "$table" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
begin, end = "<!-- bench/memory.sh results: begin -->", "<!-- bench/memory.sh results: end -->"
text = open(path).read()
if begin in text and end in text:
    text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n" + table + "\n"
open(path, "w").write(text)
PY
    say "table written to $output"
fi
