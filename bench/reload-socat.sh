#!/bin/sh
# Workload 4's peer: what an operator writes without sockctl, made to wait for the outcome as
# sockctl does. Save the state with socat (to a temporary file, then renamed), send `reload`
# to the master, then poll `show proc` until a worker other than the one before is listed.
# It validates nothing and cannot tell a failed reload from a slow one: it gives up after
# 5 minutes (exit 1). It is here for its speed only.
#   bench/reload-socat.sh ADMIN_SOCKET MASTER_SOCKET STATE_FILE
admin=$1 master=$2 state=$3
ask() { printf '%s\n' "$2" | socat stdio "UNIX-CONNECT:$1" 2>/dev/null; }
# The first current worker: the line after `# workers`, unless that is already the next section
# (3.x lists no current worker after a failed reload).
worker() {
    ask "$master" 'show proc' | awk '/^# workers/ { getline; if ($0 !~ /^#/) print $1; exit }'
}
ask "$admin" 'show servers state' >"$state.tmp" && mv "$state.tmp" "$state"
before=$(worker)
ask "$master" reload >/dev/null
tries=15000 # 5 minutes of 20 ms
while [ $tries -gt 0 ]; do
    after=$(worker)
    [ -n "$after" ] && [ "$after" != "$before" ] && exit 0
    sleep 0.02
    tries=$((tries - 1))
done
exit 1
