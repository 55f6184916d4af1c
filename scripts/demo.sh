#!/usr/bin/env bash
# The main job, end to end: sockctl against a real HAProxy.
#   scripts/demo.sh                 starts a throwaway HAProxy in a temp dir and stops it after
#   scripts/demo.sh MASTER_SOCKET   uses your running HAProxy's master CLI instead (read-only)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
sockctl="$PWD/target/release/sockctl"

run() {
    printf '\n$ sockctl'
    local arg
    for arg in "$@"; do
        case $arg in
            *[[:space:]]*) printf " '%s'" "$arg" ;;
            *) printf ' %s' "$arg" ;;
        esac
    done
    printf '\n'
    "$sockctl" "$@"
}

if [ $# -ge 1 ]; then
    master=$1
    run send "$master" "show proc"
    run send "$master" "@1 show info"
    run send "$master" "@1 show servers state"
    exit 0
fi

. scripts/ensure-haproxy.sh
ensure_tools "the demo's throwaway HAProxy" haproxy:haproxy python3:python3
export PATH="$PATH:/usr/sbin"
dir=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-demo.XXXXXX")
cleanup() {
    sandbox_stop
    rm -rf "$dir"
}
trap cleanup EXIT
. scripts/sandbox.sh
sandbox_start "$dir"
echo "started HAProxy $(haproxy -v | head -n1 | cut -d' ' -f3) in $dir (master pid $sandbox_pid)"
echo "  haproxy -W -S $dir/master.sock -f $dir/lb/haproxy.cfg (not in /etc/haproxy)"
export SOCKCTL_SOCKET="$dir/master.sock"   # so the haproxy commands below need no -s
run haproxy proc
run send "$dir/admin.sock" "show info" --max-bytes 64KiB -o "$dir/info.txt"
echo "(show info: $(wc -l <"$dir/info.txt") lines saved atomically to $dir/info.txt)"

echo
echo "# Change servers at runtime: drain s1, weight 50 on s2, maintenance on s3."
run send "$dir/admin.sock" "set server be_app/s1 state drain" "set server be_app/s2 weight 50" \
    "set server be_app/s3 state maint"
run haproxy servers --backend be_app --table

echo
echo "# Save the state where HAProxy loads it, then reload through the master and verify."
echo "# No --config: the master's command line says which configuration runs"
echo "# ($dir/lb/haproxy.cfg), and that configuration says where the state goes."
run -v haproxy reload --save-state -s "$dir/master.sock"

echo
echo "# After the reload: a new worker, and the runtime changes survived."
run haproxy servers --backend be_app --table
run haproxy proc

echo
echo "# A broken configuration: the reload fails, sockctl says so, the old worker keeps serving."
cp "$dir/lb/haproxy.cfg" "$dir/haproxy.cfg.good"
sed -i 's/^global$/global\n    no_such_keyword/' "$dir/lb/haproxy.cfg"
run haproxy reload || echo "(exit code $?)"
mv "$dir/haproxy.cfg.good" "$dir/lb/haproxy.cfg"

printf '\n$ sockctl send %s "show info"   # nothing is listening here\n' "$dir/nothing.sock"
"$sockctl" send "$dir/nothing.sock" "show info" || echo "(exit code $?)"
