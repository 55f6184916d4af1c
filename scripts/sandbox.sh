#!/usr/bin/env bash
# A throwaway HAProxy (master-worker) in a directory, for the demo and the documentation tests.
# Sourced: `sandbox_start DIR [EXTRA_GLOBAL_LINES]` starts it and waits until both sockets
# answer; `sandbox_stop` stops it. Sockets: DIR/admin.sock (stats, level admin), DIR/master.sock.
# The configuration is DIR/lb/haproxy.cfg and the server state DIR/lib/lb.state: neither is
# where a tool would guess, so only what the running HAProxy says leads there. It also loads
# what the data views show: an ACL file and a map (DIR/lb/allow.acl, DIR/lb/hosts.map), a stick
# table st_src, and, when openssl is there to make it, a self-signed certificate
# DIR/lb/site.pem on a TLS listener.
sandbox_start() {
    local dir=$1 extra=${2:-} tls=
    mkdir -p "$dir/lb" "$dir/lib"
    printf '10.0.0.0/8\n192.168.1.1\n' >"$dir/lb/allow.acl"
    printf '/api be_api\n/static be_static\nexample.com 10\n' >"$dir/lb/hosts.map"
    if command -v openssl >/dev/null 2>&1 &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sandbox.example" \
            -addext "subjectAltName=DNS:sandbox.example" -keyout "$dir/lb/key.pem" \
            -out "$dir/lb/crt.pem" 2>/dev/null; then
        cat "$dir/lb/crt.pem" "$dir/lb/key.pem" >"$dir/lb/site.pem"
        tls="    bind unix@$dir/tls.sock ssl crt $dir/lb/site.pem"
    fi
    cat >"$dir/lb/haproxy.cfg" <<CFG
global
    stats socket $dir/admin.sock level admin
    server-state-base $dir/lib
    server-state-file lb.state
$extra
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    load-server-state-from-file global
frontend fe
    bind unix@$dir/fe.sock
$tls
    acl allowed src -f $dir/lb/allow.acl
    http-request set-var(txn.route) path,map_beg($dir/lb/hosts.map,be_app)
    default_backend be_app
backend be_app
    server s1 127.0.0.1:19261
    server s2 127.0.0.1:19262
    server s3 127.0.0.1:19263
backend st_src
    stick-table type ip size 1k expire 10m store gpc0,conn_cur,http_req_rate(10s)
CFG
    PATH="$PATH:/usr/sbin" haproxy -W -S "$dir/master.sock" -f "$dir/lb/haproxy.cfg" \
        2>"$dir/haproxy.log" &
    sandbox_pid=$!
    # HAProxy 2.6's master re-executes once right after starting: wait until both answer.
    local i
    for i in $(seq 200); do
        if printf 'show proc\n' | sandbox_ask "$dir/master.sock" | grep -q '^# workers' &&
            printf 'show info\n' | sandbox_ask "$dir/admin.sock" | grep -q '^Name: HAProxy'; then
            return 0
        fi
        sleep 0.05
    done
    echo "haproxy did not start:" >&2
    cat "$dir/haproxy.log" >&2
    return 1
}

# One exchange with a plain tool, independent of the binary being demonstrated or tested.
sandbox_ask() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b: break
        sys.stdout.buffer.write(b)
except OSError:
    pass' "$1"
}

sandbox_stop() {
    if [ -n "${sandbox_pid:-}" ]; then
        kill "$sandbox_pid" 2>/dev/null || true
        wait "$sandbox_pid" 2>/dev/null || true
        sandbox_pid=
    fi
}
