#!/usr/bin/env bash
# sockctl against the clients that ship with two other services (BENCHMARKS.md, "Other
# services"): a 20 MiB GET from Redis against redis-cli, and BIRD's `show route` (20,000
# routes) against birdc, as ratios measured in one run.
#
#   bench/services.sh                checks, then times each pair with hyperfine (rounds of
#                                    runs, the order swapped every round), counts instructions
#                                    (callgrind), system calls (strace) and peak RSS, and
#                                    prints the table (one to two minutes)
#   bench/services.sh --quick        a few seconds: the correctness checks only (the same
#                                    sizes); times nothing, writes nothing
#   bench/services.sh --output FILE  also puts the table into FILE between its markers
#   bench/services.sh --keep         keep the temp dir (configs, logs, outputs, raw JSON)
#
# It starts its own redis-server and BIRD in a temp dir, on Unix sockets there, and stops them
# on exit. The checks: sockctl prints exactly the value and a newline, as `redis-cli --raw`
# does; sockctl's `show route`, with the reply codes stripped the way birdc strips them, is
# birdc's output line for line after birdc's banner, with every route (the routes' times
# masked: BIRD may print them a millisecond apart from one query to the next). A service whose
# server or client is not installed (Debian: redis-server and redis-tools, bird2) is skipped
# with a note, or fails the run when SOCKCTL_REQUIRE_SERVICES=1 (as in CI). It installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
script=bench/services.sh
. bench/lib.sh

quick=0
keep=0
output=""
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

value_bytes=$((20 << 20)) # the Redis value: 20 MiB of random bytes
routes=20000              # BIRD's static routes, 10.X.Y.0/24
# hyperfine: rounds per pair, warm-ups and runs of each command per round
redis_rounds=5 redis_warmup=2 redis_runs=15
bird_rounds=10 bird_warmup=3 bird_runs=30

[ $quick = 1 ] || require hyperfine="apt-get install hyperfine" python3="apt-get install python3"
[ -z "$output" ] || require python3="apt-get install python3"

# Each service runs only if its server and its client are both installed.
required=0
[ "${SOCKCTL_REQUIRE_SERVICES:-}" = 1 ] && required=1
have() { # have SERVICE PACKAGES TOOL...
    local service=$1 packages=$2 tool
    shift 2
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 && continue
        [ $required = 0 ] || die "$tool is not installed (apt-get install $packages) but SOCKCTL_REQUIRE_SERVICES=1"
        say "note: $tool is not installed (apt-get install $packages): $service skipped"
        return 1
    done
}
do_redis=0 do_bird=0
have Redis "redis-server redis-tools" redis-server redis-cli && do_redis=1
have BIRD bird2 bird birdc && do_bird=1
if [ $do_redis = 0 ] && [ $do_bird = 0 ]; then
    say "$script: neither Redis nor BIRD is installed: nothing to do"
    exit 0
fi

# The release binary, built if missing or older than the sources.
sockctl=target/release/sockctl
if [ ! -x "$sockctl" ] ||
    [ -n "$(find src Cargo.toml Cargo.lock build.rs -newer "$sockctl" -print -quit 2>/dev/null)" ]; then
    require cargo="a Rust toolchain (https://rustup.rs)"
    say "building sockctl (cargo build --release)..."
    cargo build --release --quiet
fi

make_temp sockctl-services
R=$T/results
mkdir -p "$R"
failures=0
check_ok() { printf 'ok    %s\n' "$*" | tee -a "$R/checks.txt" >&2; }
check_fail() {
    printf 'FAIL  %s\n' "$*" | tee -a "$R/checks.txt" >&2
    failures=$((failures + 1))
}
fact() { printf '%s\t%s\n' "$1" "$2" >>"$R/facts.tsv"; }

# started NAME PID LOG READY...: waits (up to 20 s) until the command READY succeeds.
started() {
    local name=$1 pid=$2 log=$3
    shift 3
    for _ in $(seq 400); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 20 "$log" >&2
    die "$name did not start (or did not answer)"
}

# shq ARG: ARG quoted for hyperfine's splitting of a command (POSIX quoting) if it needs it.
shq() {
    case $1 in
    *[!A-Za-z0-9_./:@=+-]* | "") printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}
cmdline() {
    local out="" arg
    for arg in "$@"; do out+="${out:+ }$(shq "$arg")"; done
    printf '%s' "$out"
}

# ---------------------------------------------------------------------------------------------
# Redis: a 20 MiB value of random bytes (every byte value, CR LF among them) under the key big.

redis_ready() { [ "$(redis-cli -s "$T/redis.sock" PING)" = PONG ]; }
bird_ready() { birdc -s "$T/bird.ctl" show route count | grep -q "^$routes of $routes routes"; }

if [ $do_redis = 1 ]; then
    say "starting redis-server..."
    redis-server --port 0 --unixsocket "$T/redis.sock" --dir "$T" --save '' --daemonize no \
        </dev/null >"$T/redis.log" 2>&1 &
    pids+=($!)
    started redis-server "$!" "$T/redis.log" redis_ready
    head -c "$value_bytes" /dev/urandom >"$T/value"
    [ "$(redis-cli -s "$T/redis.sock" -x SET big <"$T/value")" = OK ] || die "redis-cli could not SET the value"
    [ "$(redis-cli -s "$T/redis.sock" STRLEN big)" = "$value_bytes" ] || die "the value stored is not $value_bytes bytes"
    redis_sockctl=("$sockctl" send --proto redis "$T/redis.sock" 'GET big')
    redis_peer=(redis-cli -s "$T/redis.sock" --raw GET big)
    fact redis "$(redis-server --version | sed -n 's/^Redis server v=\([^ ]*\).*/Redis \1/p') with $(redis-cli --version)"
fi

# ---------------------------------------------------------------------------------------------
# BIRD: one static protocol of blackhole routes; no kernel or device protocol, so nothing
# touches the machine's routing.

if [ $do_bird = 1 ]; then
    say "starting BIRD with $routes routes..."
    {
        echo 'router id 192.0.2.1;'
        echo 'protocol static static_bh {'
        echo '    ipv4;'
        awk -v n="$routes" 'BEGIN { for (i = 0; i < n; i++)
            printf "    route 10.%d.%d.0/24 blackhole;\n", int(i / 256), i % 256 }'
        echo '}'
    } >"$T/bird.conf"
    bird -f -c "$T/bird.conf" -s "$T/bird.ctl" -P "$T/pid" </dev/null >"$T/bird.log" 2>&1 &
    pids+=($!)
    started BIRD "$!" "$T/bird.log" bird_ready
    bird_sockctl=("$sockctl" send --proto bird "$T/bird.ctl" 'show route')
    bird_peer=(birdc -s "$T/bird.ctl" show route)
    fact bird "$(bird --version 2>&1 | sed -n 's/^BIRD version /BIRD /p') with its birdc"
fi

# ---------------------------------------------------------------------------------------------
# Correctness, in every mode.

run_to() { # run_to FILE COMMAND...: stdout to FILE, stderr to FILE.err; the exit code
    local file=$1 code=0
    shift
    "$@" >"$file" 2>"$file.err" || code=$?
    return $code
}

if [ $do_redis = 1 ]; then
    printf '\n' | cat "$T/value" - >"$T/value.nl"
    code=0
    run_to "$T/redis.sockctl" "${redis_sockctl[@]}" || code=$?
    if [ $code != 0 ]; then
        check_fail "redis: sockctl exited with $code: $(head -c 300 "$T/redis.sockctl.err")"
    elif cmp -s "$T/value.nl" "$T/redis.sockctl"; then
        check_ok "redis GET big: sockctl printed the $value_bytes-byte value and a newline, exactly"
    else
        check_fail "redis GET big: sockctl printed $(wc -c <"$T/redis.sockctl") bytes, not the value and a newline ($((value_bytes + 1)) bytes): $(cmp "$T/value.nl" "$T/redis.sockctl" 2>&1 | head -n1)"
    fi
    code=0
    run_to "$T/redis.peer" "${redis_peer[@]}" || code=$?
    if [ $code != 0 ]; then
        check_fail "redis: redis-cli exited with $code: $(head -c 300 "$T/redis.peer.err")"
    elif cmp -s "$T/value.nl" "$T/redis.peer"; then
        check_ok "redis GET big: redis-cli --raw printed the same bytes (the value and a newline)"
    else
        check_fail "redis GET big: redis-cli --raw printed $(wc -c <"$T/redis.peer") bytes, not the value and a newline"
    fi
    rm -f "$T/value.nl"
fi

# birdc prints each reply line without its code (BIRD's client/client.c, server_got_reply):
# ` text` (a continuation) as `text`, `DDDD-text` and `DDDD text` as `text` unless the code is
# 0000 (`0000 ` ends a listing: nothing printed), `+text` (a notice) as `>>> text`, anything
# else as `??? <line>`; and first the greeting, `0001 BIRD 2.0.12 ready.`, as its banner.
as_birdc() {
    LC_ALL=C awk '
        /^\+/ { print ">>> " substr($0, 2); next }
        /^ / { print substr($0, 2); next }
        /^[0-9][0-9][0-9][0-9][- ]/ && length($0) > 4 { if (substr($0, 1, 4) + 0 != 0) print substr($0, 6); next }
        { print "??? <" $0 ">" }'
}
route_lines() { LC_ALL=C grep -c "^$1"'10\.[0-9]*\.[0-9]*\.0/24  *blackhole ' || true; }
# Two queries of the same table may print a route's time (`[static_bh 12:08:02.156]`) a
# millisecond apart: BIRD works the wall-clock time out as it writes (seen in blocks of 64
# routes). The times are masked before the comparison; everything else must be equal.
untimed() { LC_ALL=C sed -E 's/^([0-9a-f.:]+\/[0-9]+ +.* \[[A-Za-z0-9_]+ )[0-9:. -]+\]/\1TIME]/'; }

if [ $do_bird = 1 ]; then
    code=0
    run_to "$T/bird.sockctl" "${bird_sockctl[@]}" || code=$?
    [ $code = 0 ] || check_fail "bird: sockctl exited with $code: $(head -c 300 "$T/bird.sockctl.err")"
    code=0
    run_to "$T/bird.peer" "${bird_peer[@]}" || code=$?
    [ $code = 0 ] || check_fail "bird: birdc exited with $code: $(head -c 300 "$T/bird.peer.err")"
    first=$(head -n1 "$T/bird.sockctl")
    last=$(tail -n1 "$T/bird.sockctl")
    banner=$(head -n1 "$T/bird.peer")
    n_sockctl=$(route_lines ' ' <"$T/bird.sockctl")
    n_peer=$(route_lines '' <"$T/bird.peer")
    if [ "$first" = "1007-Table master4:" ] && [ "$last" = "0000 " ]; then
        check_ok "bird show route: sockctl's reply is whole, from '1007-Table master4:' to '0000 ', the greeting left out"
    else
        check_fail "bird show route: sockctl's reply runs from '$first' to '$last', not '1007-Table master4:' to '0000 '"
    fi
    if [[ $banner =~ ^BIRD\ [0-9.]+\ ready\.$ ]]; then
        check_ok "bird show route: birdc's first line is its banner '$banner' (the greeting without its code)"
    else
        check_fail "bird show route: birdc's first line is '$banner', not a banner 'BIRD x ready.'"
    fi
    as_birdc <"$T/bird.sockctl" | untimed >"$T/bird.sockctl.stripped"
    tail -n +2 "$T/bird.peer" | untimed >"$T/bird.peer.nobanner"
    if cmp -s "$T/bird.sockctl.stripped" "$T/bird.peer.nobanner"; then
        lines=$(wc -l <"$T/bird.sockctl") peer_lines=$(wc -l <"$T/bird.peer.nobanner")
        check_ok "bird show route: sockctl's reply ($lines lines), codes stripped as birdc strips them, is birdc's output after its banner ($peer_lines lines: nothing for '0000 '), byte for byte but for the routes' times"
    else
        check_fail "bird show route: sockctl's lines, codes stripped, differ from birdc's: $(diff "$T/bird.sockctl.stripped" "$T/bird.peer.nobanner" | head -n 4 | tr '\n' ' ')"
    fi
    if [ "$n_sockctl" = "$routes" ] && [ "$n_peer" = "$routes" ]; then
        check_ok "bird show route: $routes route lines from sockctl and from birdc"
    else
        check_fail "bird show route: $n_sockctl route lines from sockctl, $n_peer from birdc, not $routes"
    fi
    fact bird_reply_bytes "$(wc -c <"$T/bird.sockctl")"
fi

[ $failures = 0 ] || die "$failures check(s) failed; nothing timed"
if [ $quick = 1 ]; then
    say "quick: every check passed (nothing timed; run without --quick for the figures)"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# Timing: hyperfine without a shell, output to /dev/null; rounds per pair, the order of the two
# swapped every round (a burst of load from elsewhere spoils a round, not the ratio).

fact cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
fact cores "$(nproc)"
fact kernel "$(uname -sr)"
rev=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev + local changes to src"
fact sockctl "$rev"
fact hyperfine "$(hyperfine --version)"
fact load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
fact value_bytes "$value_bytes"
fact routes "$routes"

# pair TAG ROUNDS WARMUP RUNS: times sockctl_cmd against peer_cmd (named sockctl_name,
# peer_name).
pair() {
    local tag=$1 rounds=$2 warmup=$3 runs=$4 r a b
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tag" "$sockctl_name" "$sockctl_cmd" "$peer_name" "$peer_cmd" \
        "$warmup" "$runs" >>"$R/pairs.tsv"
    for r in $(seq "$rounds"); do
        a=(-n "$sockctl_name" "$sockctl_cmd") b=(-n "$peer_name" "$peer_cmd")
        say "== $tag, round $r/$rounds"
        if [ $((r % 2)) = 0 ]; then
            hyperfine -N --style basic --output=null --warmup "$warmup" --runs "$runs" \
                --export-json "$R/$tag.round$r.json" "${b[@]}" "${a[@]}" >>"$T/hyperfine.log" 2>&1
        else
            hyperfine -N --style basic --output=null --warmup "$warmup" --runs "$runs" \
                --export-json "$R/$tag.round$r.json" "${a[@]}" "${b[@]}" >>"$T/hyperfine.log" 2>&1
        fi || {
            tail -n 5 "$T/hyperfine.log" >&2
            die "hyperfine failed for $tag"
        }
    done
}

# counts TAG NAME COMMAND...: what depends little or not at all on the load: user-space
# instructions (callgrind, one run), system calls (strace -f -c, the median of three runs: how
# many reads a reply takes follows how the server paces its writes) and peak RSS
# (/usr/bin/time, one run).
counts() {
    local tag=$1 name=$2 ir="" calls="" rss="" n runs=()
    shift 2
    if command -v valgrind >/dev/null 2>&1; then
        valgrind --tool=callgrind --callgrind-out-file="$T/callgrind.out" "$@" >/dev/null 2>"$T/callgrind.log" &&
            ir=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$T/callgrind.log")
    fi
    if command -v strace >/dev/null 2>&1; then
        for _ in 1 2 3; do
            strace -f -c -o "$T/strace.txt" "$@" >/dev/null 2>&1 &&
                n=$(awk '$NF == "total" { print $4 }' "$T/strace.txt") && runs+=("$n")
        done
        [ ${#runs[@]} = 0 ] || calls=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((${#runs[@]} + 1) / 2))p")
    fi
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v -o "$T/time.txt" "$@" >/dev/null 2>&1 &&
            rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$tag" "$name" "$ir" "$calls" "$rss" >>"$R/counts.tsv"
}

if [ $do_redis = 1 ]; then
    sockctl_name=sockctl sockctl_cmd=$(cmdline "${redis_sockctl[@]}")
    peer_name=redis-cli peer_cmd=$(cmdline "${redis_peer[@]}")
    pair redis "$redis_rounds" "$redis_warmup" "$redis_runs"
    say "== redis: instructions, system calls, peak RSS"
    counts redis sockctl "${redis_sockctl[@]}"
    counts redis redis-cli "${redis_peer[@]}"
fi
if [ $do_bird = 1 ]; then
    sockctl_name=sockctl sockctl_cmd=$(cmdline "${bird_sockctl[@]}")
    peer_name=birdc peer_cmd=$(cmdline "${bird_peer[@]}")
    pair bird "$bird_rounds" "$bird_warmup" "$bird_runs"
    say "== bird: instructions, system calls, peak RSS"
    counts bird sockctl "${bird_sockctl[@]}"
    counts bird birdc "${bird_peer[@]}"
fi
fact load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# The table: per pair, each command's median over every run (interquartile range), and the
# ratio sockctl / peer: the median of the rounds' ratios of medians (their range).

python3 - "$R" "$T" >"$T/table.md" <<'PY'
import json, os, statistics, sys

rdir, tdir = sys.argv[1], sys.argv[2]
def tsv(name):
    path = os.path.join(rdir, name)
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
facts = dict(tsv("facts.tsv"))
counts = {(r[0], r[1]): r[2:] for r in tsv("counts.tsv")}

def ms(s, unit=True):
    text = f"{s * 1000:.1f}" if s < 0.1 else f"{s * 1000:.0f}"
    return text + " ms" if unit else text
def num(x, unit=""):
    if not x:
        return "–"
    x = int(x)
    if x >= 10**6:
        return f"{x / 10**6:.1f} M{unit}"
    return f"{x:,}{unit and ' ' + unit}"
def kib(x):
    return f"{int(x) / 1024:.1f} MiB" if x else "–"
def quartiles(times):
    q = statistics.quantiles(times, n=4)
    return q[0], q[2]

titles = {
    "redis": f"Redis `GET` of a {int(facts['value_bytes']) >> 20} MiB value",
    "bird": f"BIRD `show route`, {int(facts['routes']):,} routes "
    f"({int(facts.get('bird_reply_bytes', 0)) / 1e6:.1f} MB)",
}
rows, commands = [], []
for tag, sname, scmd, pname, pcmd, warmup, runs in tsv("pairs.tsv"):
    rounds = []
    r = 1
    while os.path.exists(p := os.path.join(rdir, f"{tag}.round{r}.json")):
        rounds.append({x["command"]: x for x in json.load(open(p))["results"]})
        r += 1
    ratios = [rd[sname]["median"] / rd[pname]["median"] for rd in rounds]
    ratio = statistics.median(ratios)
    ir = {n: counts.get((tag, n), ["", "", ""]) for n in (sname, pname)}
    ir_ratio = ""
    if ir[sname][0] and ir[pname][0]:
        ir_ratio = f"{int(ir[sname][0]) / int(ir[pname][0]):.2f}"
    for i, (name, cmd) in enumerate(((sname, scmd), (pname, pcmd))):
        times = [t for rd in rounds for t in rd[name]["times"]]
        lo, hi = quartiles(times)
        cpu = statistics.median(rd[name]["user"] + rd[name]["system"] for rd in rounds)
        ic, calls, rss = ir[name]
        cell = f"**{ratio:.2f}** ({min(ratios):.2f}–{max(ratios):.2f})" if i == 0 else "1.00"
        rows.append(
            f"| {titles[tag] if i == 0 else ''} | {name} | {ms(statistics.median(times))} "
            f"({ms(lo, False)}–{ms(hi, False)}) | {cell} | {ms(cpu)} | {num(ic)} "
            f"| {ir_ratio if i == 0 else '1.00'} | {num(calls)} | {kib(rss)} |"
        )
        commands.append(f"- `{cmd.replace(tdir, '$T')}`")
    facts[f"{tag}_runs"] = f"{len(rounds)} rounds of {runs} runs (after {warmup} warm-ups)"

servers = [facts[k] for k in ("redis", "bird") if k in facts]
runs = [f"{n}: {facts[k + '_runs']}" for k, n in (("redis", "Redis"), ("bird", "BIRD")) if k + "_runs" in facts]
out = ["<!-- bench/services.sh results: begin -->"]
out.append(
    f"{', '.join(servers)}; sockctl {facts['sockctl']}. "
    f"Each server on a Unix socket in a temp dir; output to `/dev/null`. {facts['hyperfine']}, "
    f"no shell (`-N`); {', '.join(runs)} "
    "of each command, the order swapped every round. Times: the median of all runs "
    "(interquartile range); CPU: user + system, median of the rounds' means. **sockctl / peer**: the "
    "median of the rounds' ratios of median times (their range). Instructions (user space, "
    "callgrind) and peak RSS (`/usr/bin/time -v`): one run each; system calls (`strace -f -c`): "
    "the median of three runs. "
    f"{facts['cores']} CPUs ({facts['cpu']}), {facts['kernel']}, shared: load "
    f"{facts['load_before']} before, {facts['load_after']} after."
)
out.append("")
out.append("| workload | client | median time (IQR) | sockctl / peer | CPU | instructions | instr. sockctl / peer | system calls | peak RSS |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
out += rows
out.append("")
out.append("Commands (`$T` is the temp dir):")
out.append("")
out += commands
out.append("")
out.append("Checks:")
out.append("")
out.append("```")
out += [l.rstrip("\n") for l in open(os.path.join(rdir, "checks.txt"))]
out.append("```")
out.append("<!-- bench/services.sh results: end -->")
print("\n".join(out))
PY
cat "$T/table.md"
if [ -n "$output" ]; then
    python3 - "$output" "$T/table.md" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
begin, end = "<!-- bench/services.sh results: begin -->", "<!-- bench/services.sh results: end -->"
text = open(path).read()
if begin in text and end in text:
    text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n" + table + "\n"
open(path, "w").write(text)
PY
    say "table written to $output"
fi
