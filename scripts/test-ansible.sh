#!/usr/bin/env bash
# The Ansible collection (ansible/ansible_collections/sockctl/haproxy) end to end, real parts
# only: ansible-core from PyPI in a virtualenv, OpenSSH's sshd on 127.0.0.1 (its own
# configuration, host key and authorized key), and three HAProxy masters (lb1, lb2, lb3), each
# with a slow upstream that holds sessions, the same server in two backends, a backup server
# and a DOWN one. Ansible reaches the "hosts" lb1..lb3 over that sshd as root, runs the modules
# on them with the release binary, and the checks read HAProxy's state independently.
# Everything lives in one temp dir, removed at the end; nothing is cached across runs and no
# system service is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
. scripts/ensure-haproxy.sh
. scripts/sandbox.sh
export PATH="$PATH:/usr/sbin"
# memcached: a service other than HAProxy for admin_socket's profiles (started here on a Unix
# socket in the temp dir; its package's own service is not needed).
ensure_tools "the Ansible tests" haproxy:haproxy python3:python3 py.ensurepip:python3-venv \
    sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client memcached:memcached
if [ "$(id -u)" != 0 ]; then
    # The managed hosts are reached as root, as an operator's load balancers are.
    echo "FAIL: scripts/test-ansible.sh runs sshd and logs in as root: run it as root" >&2
    exit 1
fi
cargo build --release --quiet
bin=$root/target/release/sockctl
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-ansible.XXXXXX")
pids=()
cleanup() {
    local pid
    [ -f "$tmp/ssh/sshd.pid" ] && kill "$(cat "$tmp/ssh/sshd.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
ok() { echo "ok   $1"; }
fail() {
    failures=$((failures + 1))
    echo "FAIL $1"
}
step() { echo "== $1 ($((SECONDS - started)) s) =="; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- ansible-core from PyPI, the collection built and installed from the source tree
step "ansible-core into a virtualenv (pip install ansible-core)"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check ansible-core
venv=$tmp/venv/bin
"$venv/ansible" --version >"$tmp/version.txt"
head -n1 "$tmp/version.txt"
mkdir -p "$tmp/home" "$tmp/build" "$tmp/collections"
export HOME=$tmp/home ANSIBLE_COLLECTIONS_PATH=$tmp/collections \
    ANSIBLE_LOCAL_TEMP=$tmp/ansible-local ANSIBLE_REMOTE_TEMP=$tmp/ansible-remote \
    ANSIBLE_SSH_CONTROL_PATH_DIR=$tmp/cp ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_DEPRECATION_WARNINGS=False ANSIBLE_PIPELINING=True
(cd ansible/ansible_collections/sockctl/haproxy &&
    "$venv/ansible-galaxy" collection build --output-path "$tmp/build" >/dev/null)
"$venv/ansible-galaxy" collection install -p "$tmp/collections" "$tmp"/build/sockctl-haproxy-*.tar.gz >/dev/null
modules=(haproxy_server haproxy_reload haproxy_facts admin_socket)
doc_ok=$("$venv/ansible-doc" "${modules[@]/#/sockctl.haproxy.}" 2>"$tmp/doc.err" |
    grep -c -E '^(> MODULE sockctl\.haproxy\.|RETURN VALUES|EXAMPLES)') || true
if [ "$doc_ok" = $((3 * ${#modules[@]})) ] && [ ! -s "$tmp/doc.err" ]; then
    ok "ansible-doc renders ${modules[*]}"
else
    fail "ansible-doc: $doc_ok of $((3 * ${#modules[@]})) headings"
    cat "$tmp/doc.err"
fi

# ansible-test's validate-modules on the installed collection, run directly: `ansible-test
# sanity` itself first downloads a pip bootstrap script from a host other than PyPI. Two
# findings are expected and filtered: DOCUMENTATION.author without a GitHub handle, and no GPLv3
# header (the collection is MIT or Apache-2.0, as sockctl).
"$venv/pip" install --quiet --no-cache-dir --disable-pip-version-check voluptuous antsibull-docs-parser
validate=$(dirname "$("$venv/python" -c 'import ansible_test; print(ansible_test.__file__)')")/_util/controller/sanity/validate-modules
(cd "$tmp/collections/ansible_collections/sockctl/haproxy" &&
    PYTHONPATH=$validate "$venv/python" "$validate/validate.py" --arg-spec \
        --collection ansible_collections/sockctl/haproxy --collection-version 0.1.0 \
        plugins/modules) >"$tmp/validate.txt" 2>&1 || true
if ! grep -v -e 'DOCUMENTATION.author: Invalid author' -e 'Emissing-gplv3-license' "$tmp/validate.txt" | grep -q .; then
    ok "validate-modules: no finding but the author handle and the GPLv3 header ($(wc -l <"$tmp/validate.txt") filtered)"
else
    fail "validate-modules"
    cat "$tmp/validate.txt"
fi

# --- sshd on 127.0.0.1, a free port, keys of this run only
step "sshd and three HAProxy masters"
mkdir -p "$tmp/ssh" && chmod 700 "$tmp/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/id_ed25519"
cp "$tmp/ssh/id_ed25519.pub" "$tmp/ssh/authorized_keys"
port=$(free_port)
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/ssh/host_key.pub")" >"$tmp/ssh/known_hosts"
cat >"$tmp/ssh/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/ssh/host_key
PidFile $tmp/ssh/sshd.pid
AuthorizedKeysFile $tmp/ssh/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
CFG
# sshd's privilege-separation directory; Debian's service makes it at start.
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 0755 /run/sshd; }
"$sshd_bin" -f "$tmp/ssh/sshd_config" -E "$tmp/ssh/sshd.log"
ssh_opts=(-o "UserKnownHostsFile=$tmp/ssh/known_hosts" -o StrictHostKeyChecking=yes
    -o IdentitiesOnly=yes -o BatchMode=yes -i "$tmp/ssh/id_ed25519" -p "$port")
for _ in $(seq 100); do
    ssh "${ssh_opts[@]}" root@127.0.0.1 true 2>/dev/null && break
    sleep 0.1
done
if ssh "${ssh_opts[@]}" root@127.0.0.1 true; then
    ok "sshd on 127.0.0.1:$port, root by key only"
else
    fail "sshd did not let root in by key"
    cat "$tmp/ssh/sshd.log"
    exit 1
fi

# --- three HAProxy masters, each with a slow upstream
cat >"$tmp/upstream.py" <<'PY'
# An HTTP upstream on a Unix socket that holds each request while PATH.hold exists, then
# answers; PATH.accepted counts what it accepted.
import os, socket, sys, threading, time
path = sys.argv[1]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(64)
def serve(conn):
    with conn:
        if not conn.recv(65536):
            return  # a health check's connect
        with open(path + ".accepted", "a") as f:
            f.write("1\n")
        while os.path.exists(path + ".hold"):
            time.sleep(0.05)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
start_lb() { # NAME
    local d=$tmp/$1
    mkdir -p "$d"
    cat >"$d/haproxy.cfg" <<CFG
global
    stats socket $d/admin.sock level admin
    server-state-file $d/haproxy.state

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    load-server-state-from-file global

frontend fe
    bind unix@$d/fe.sock
    default_backend be_app

backend be_app
    server web1 unix@$d/app.sock check inter 500ms
    server spare 127.0.0.1:9 backup
    server down 127.0.0.1:9 check inter 200ms fall 1 rise 1

backend be_api
    server web1 unix@$d/app.sock
CFG
    python3 "$tmp/upstream.py" "$d/app.sock" &
    pids+=($!)
    haproxy -W -S "$d/master.sock" -f "$d/haproxy.cfg" 2>"$d/haproxy.log" &
    pids+=($!)
    for _ in $(seq 200); do
        if printf 'show proc\n' | sandbox_ask "$d/master.sock" | grep -q '^# workers' &&
            printf 'show servers state be_app\n' | sandbox_ask "$d/admin.sock" |
            grep -q ' down 127.0.0.1 0 '; then
            # Up, and the server `down` is DOWN (op state 0) by its failed check.
            return 0
        fi
        sleep 0.05
    done
    echo "HAProxy $1 did not start (or 'down' never went DOWN):" >&2
    cat "$d/haproxy.log" >&2
    return 1
}
for lb in lb1 lb2 lb3; do
    start_lb "$lb"
done
memcached -s "$tmp/lb1/memcached.sock" -a 0600 -U 0 -u root 2>"$tmp/memcached.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$tmp/lb1/memcached.sock" ] && break
    sleep 0.05
done
ok "$(haproxy_version haproxy) as lb1, lb2, lb3"

# web1's admin state in be_app and be_api of LB, as `show servers state` says (independent of
# the modules under test).
admin_states() {
    printf 'show servers state\n' | sandbox_ask "$tmp/$1/admin.sock" |
        awk '$4 == "web1" { printf "%s=%s ", $2, $7 }'
}
# be_app=0 be_api=0 is ready, 8 is drain (FDRAIN), 1 maint (FMAINT).

cat >"$tmp/inventory.yml" <<INV
lbs:
  vars:
    ansible_host: 127.0.0.1
    ansible_port: $port
    ansible_user: root
    ansible_ssh_private_key_file: $tmp/ssh/id_ed25519
    ansible_ssh_common_args: >-
      -o UserKnownHostsFile=$tmp/ssh/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes
    ansible_python_interpreter: /usr/bin/python3
    sockctl_path: $bin
  hosts:
    lb1:
      haproxy_dir: $tmp/lb1
      deploy_dir: $tmp/lb1
      haproxy_sockets: [$tmp/lb1/admin.sock]
    lb2:
      haproxy_dir: $tmp/lb2
      deploy_dir: $tmp/lb2
      haproxy_sockets: [$tmp/lb2/master.sock]
    lb3:
      haproxy_dir: $tmp/lb3
      deploy_dir: $tmp/lb3
      haproxy_sockets: [$tmp/lb3/admin.sock, $tmp/lb3/master.sock]
INV
playbook() { # LOG ARGS...: ansible-playbook from the temp dir (no ansible.cfg found), logged
    local log=$1
    shift
    (cd "$tmp" && "$venv/ansible-playbook" -i "$tmp/inventory.yml" "$@") >"$log" 2>&1
}
# The PLAY RECAP's counter NAME for HOST.
recap() { # LOG HOST NAME
    sed -n "s/^$2 *: .*$3=\([0-9]*\).*/\1/p" "$1" | tail -n1
}

# --- every module, its checks in the playbook
step "the modules (ansible/tests/modules.yml on lb1)"
if playbook "$tmp/modules.log" -e target=lb1 "$root/ansible/tests/modules.yml"; then
    ok "modules: facts, server (check, diff, idempotence, DOWN, backup), admin_socket, reload ($(grep -c '^TASK' "$tmp/modules.log") tasks)"
else
    fail "modules: ansible/tests/modules.yml"
    # The task that stopped it (an assertion names the expression that failed).
    tail -n 40 "$tmp/modules.log"
fi

# --- a state playbook: check mode changes nothing and says what would change; the first run
# changes it; the second run changes nothing
step "check mode and idempotence (lb3)"
cat >"$tmp/state.yml" <<'YML'
- hosts: lb3
  gather_facts: false
  tasks:
    - sockctl.haproxy.haproxy_server:
        name: web1
        state: maint
        sockets: "{{ haproxy_sockets }}"
        sockctl_path: "{{ sockctl_path }}"
    - sockctl.haproxy.haproxy_server:
        name: be_api/web1
        weight: 5
        sockets: "{{ haproxy_sockets }}"
        sockctl_path: "{{ sockctl_path }}"
YML
before=$(admin_states lb3)
playbook "$tmp/check.log" --check --diff "$tmp/state.yml" || true
if [ "$(recap "$tmp/check.log" lb3 changed)" = 2 ] && [ "$(admin_states lb3)" = "$before" ] &&
    grep -q '"admin_state": "maint"' "$tmp/check.log" && grep -q '"weight": 5' "$tmp/check.log"; then
    ok "check mode: changed=2 reported with the diff, HAProxy untouched ($before)"
else
    fail "check mode (state before: $before, after: $(admin_states lb3))"
    tail -n 40 "$tmp/check.log"
fi
playbook "$tmp/first.log" "$tmp/state.yml" || true
playbook "$tmp/second.log" "$tmp/state.yml" || true
if [ "$(recap "$tmp/first.log" lb3 changed)" = 2 ] && [ "$(recap "$tmp/second.log" lb3 changed)" = 0 ] &&
    [ "$(recap "$tmp/second.log" lb3 failed)" = 0 ] &&
    [ "$(admin_states lb3)" = "be_app=1 be_api=1 " ]; then
    ok "idempotence: first run changed=2, second changed=0 (web1 in maintenance in both backends)"
else
    fail "idempotence: first changed=$(recap "$tmp/first.log" lb3 changed), second changed=$(recap "$tmp/second.log" lb3 changed), state $(admin_states lb3)"
    tail -n 30 "$tmp/second.log"
fi
# Back to ready for the rolling deploy.
"$bin" haproxy ready web1 -s "$tmp/lb3/admin.sock" >/dev/null

# --- the rolling deploy: through on good hosts; stopped at the first failure
step "the rolling deploy (examples/ansible/rolling-deploy.yml)"
rolling=$root/examples/ansible/rolling-deploy.yml
if playbook "$tmp/roll1.log" -e release=r1 -e drain_timeout=10s -e ready_timeout=10s "$rolling" &&
    [ "$(cat "$tmp/lb1/release" "$tmp/lb2/release" "$tmp/lb3/release" | tr '\n' ' ')" = "r1 r1 r1 " ] &&
    [ "$(admin_states lb1)$(admin_states lb2)$(admin_states lb3)" = "$(printf 'be_app=0 be_api=0 %.0s' 1 2 3)" ]; then
    ok "rolling deploy: r1 on lb1, lb2, lb3, each drained and ready again"
else
    fail "rolling deploy of r1"
    tail -n 40 "$tmp/roll1.log"
fi
# A session on lb2's web1 that does not end: its drain cannot complete in 2 s.
touch "$tmp/lb2/app.sock.hold"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1024)' "$tmp/lb2/fe.sock" &
client=$!
pids+=("$client")
for _ in $(seq 100); do
    [ -s "$tmp/lb2/app.sock.accepted" ] && break
    sleep 0.05
done
code=0
playbook "$tmp/roll2.log" -e release=r2 -e drain_timeout=2s -e ready_timeout=10s "$rolling" || code=$?
releases=$(cat "$tmp/lb1/release" "$tmp/lb2/release" "$tmp/lb3/release" | tr '\n' ' ')
if [ "$code" != 0 ] && [ "$releases" = "r2 r1 r1 " ] &&
    grep -q 'still waiting: be_app/web1: 1 sessions' "$tmp/roll2.log" &&
    ! grep -q '\[lb3\]' "$tmp/roll2.log" &&
    [ "$(admin_states lb3)" = "be_app=0 be_api=0 " ] && [ "$(admin_states lb2)" = "be_app=8 be_api=8 " ]; then
    ok "rolling deploy: r2 on lb1; lb2's drain timed out (exit $code), the play stopped, lb3 never drained"
else
    fail "rolling deploy of r2: exit $code, releases $releases, lb2 $(admin_states lb2), lb3 $(admin_states lb3)"
    tail -n 40 "$tmp/roll2.log"
fi
rm -f "$tmp/lb2/app.sock.hold"

echo "ansible tests: $failures failed, in $((SECONDS - started)) s"
[ "$failures" = 0 ]
