# Shared by bench/run.sh and bench/profile.sh (sourced, from the repository root): tool checks,
# builds, a temp dir that is cleaned up, the fast reply server and throwaway HAProxy instances.

export PATH="$PATH:/usr/sbin:/usr/local/sbin"

say() { printf '%s\n' "$*" >&2; }
die() {
    say "$script: $*"
    exit 1
}

# require TOOL=HINT...: stops, naming every missing tool and how to get it, if any is missing.
# Installs nothing.
require() {
    local spec tool missing=()
    for spec in "$@"; do
        tool=${spec%%=*}
        if [ "${tool#/}" != "$tool" ]; then [ -x "$tool" ] && continue; else
            command -v "$tool" >/dev/null 2>&1 && continue
        fi
        missing+=("$tool: ${spec#*=}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "$script: missing essential tools, nothing was run:"
        for spec in "${missing[@]}"; do say "  - $spec"; done
        exit 1
    fi
}

# optional_tools: sets have_socat and have_nc, saying what is missing.
optional_tools() {
    have_socat=0
    have_nc=0
    command -v socat >/dev/null 2>&1 && have_socat=1
    # Only OpenBSD netcat has -N (shut down the sending side at EOF on stdin) and -U.
    command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-N' && have_nc=1
    [ $have_socat = 1 ] || say "note: socat is not installed (apt-get install socat): its rows are skipped"
    [ $have_nc = 1 ] || say "note: OpenBSD nc with -N is not installed (apt-get install netcat-openbsd): its rows are skipped"
}

# The Python of the client: $PYTHON, else the system's python3 (what a script on a server
# runs), else the first python3 on PATH; resolved to the interpreter itself, not a version
# manager's shim script whose own start-up would be counted.
pick_python() {
    local candidate=${PYTHON:-}
    if [ -z "$candidate" ]; then
        if [ -x /usr/bin/python3 ]; then candidate=/usr/bin/python3; else candidate=python3; fi
    fi
    py=$("$candidate" -c 'import sys; print(sys.executable)') || die "cannot run $candidate"
}

# build: sockctl (release profile: LTO, stripped), the Rust helpers and the C floors (one
# exchange, and a batch one command at a time).
build() {
    say "building sockctl, the helpers and the floors..."
    cargo build --release --quiet
    cargo build --release --quiet --manifest-path bench/tools/Cargo.toml
    mkdir -p bench/build
    cc -O2 -Wall -o bench/build/floor bench/floor.c
    cc -O2 -Wall -o bench/build/lockstep bench/lockstep.c
    sockctl=target/release/sockctl
    floor=bench/build/floor
    lockstep=bench/build/lockstep
    tools=bench/tools/target/release
    client=bench/client.py
}

# make_temp PREFIX: T, a temp dir removed on exit (kept with keep=1) after every server this
# script started is stopped.
pids=()
make_temp() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${keep:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
}

# start_reply_server: the fast local server on $T/reply.sock (the command names the size).
start_reply_server() {
    "$tools/reply-server" "$T/reply.sock" 1M >"$T/reply-server.out" &
    pids+=($!)
    for _ in $(seq 100); do grep -q ready "$T/reply-server.out" 2>/dev/null && break; sleep 0.02; done
    grep -q ready "$T/reply-server.out" || die "the reply server did not start"
}

# start_haproxy NAME SERVERS: a master-worker HAProxy in $T/NAME with a backend "be" of SERVERS
# servers (s1..sN, disabled: nothing ever connects to them) and a stats socket at level admin.
# Sets ha_pid (the master), ha_dir, ha_name and ha_servers.
start_haproxy() {
    ha_name=$1 ha_servers=$2
    ha_dir=$T/$1
    mkdir -p "$ha_dir"
    cat >"$ha_dir/haproxy.cfg" <<CFG
global
    stats socket $ha_dir/admin.sock level admin
    stats timeout 1m
    server-state-file $ha_dir/haproxy.state
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    load-server-state-from-file global
backend be
    server-template s $2 127.0.0.1:9 disabled
CFG
    haproxy -W -S "$ha_dir/master.sock" -f "$ha_dir/haproxy.cfg" </dev/null >/dev/null 2>>"$ha_dir/haproxy.log" &
    ha_pid=$!
    pids+=("$ha_pid")
    # HAProxy 2.6's master re-executes itself right after starting its worker; connections made
    # before the new image serves may be refused or reset. Ready: re-executed, and both sockets
    # answer.
    for _ in $(seq 600); do
        if tr '\0' '\n' <"/proc/$ha_pid/environ" 2>/dev/null | grep -qx 'HAPROXY_MWORKER_WAIT_ONLY=1' &&
            "$floor" "$ha_dir/master.sock" "show proc" 2>/dev/null | grep -q '^# workers' &&
            "$floor" "$ha_dir/admin.sock" "show info" 2>/dev/null | grep -q '^Name: HAProxy'; then
            return 0
        fi
        kill -0 "$ha_pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$ha_dir/haproxy.log" >&2
    die "HAProxy ($2 servers) did not start"
}

stop_haproxy() {
    kill -TERM "$ha_pid" 2>/dev/null || true
    wait "$ha_pid" 2>/dev/null || true
}

# alive: makes sure the current HAProxy still runs. Something else on the machine may stop it
# (a broad `pkill haproxy`); it is then started again with the same config and sockets (at most 3 times),
# and the restart is counted in $ha_restarts.
ha_restarts=0
alive() {
    kill -0 "$ha_pid" 2>/dev/null && return 0
    ha_restarts=$((ha_restarts + 1))
    say "note: HAProxy in $ha_dir was stopped from outside; starting it again"
    tail -n 3 "$ha_dir/haproxy.log" >&2
    [ $ha_restarts -le 3 ] || die "HAProxy keeps being stopped from outside; giving up"
    start_haproxy "$ha_name" "$ha_servers"
}
