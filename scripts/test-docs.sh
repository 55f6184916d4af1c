#!/usr/bin/env bash
# Runs every example of the documentation against a throwaway HAProxy: each `sockctl` line of
# the ```sh blocks in README.md and docs/*.md (but docs/services.md and docs/fleet-ssh.md, whose
# examples the integration tests run against the real servers and an sshd), the Python and
# Ansible examples, and the systemd ExecReload= line. The paths the documentation uses
# (/run/haproxy/…, /run/lb1/…, /var/lib/haproxy/…, /etc/haproxy/haproxy.cfg, lb1.example:9999,
# abns@haproxy) are mapped into the sandbox, and the files the examples read (weights.txt,
# lbs.txt) are made there. A line must exit 0 unless its trailing comment says `exits N`.
# (examples/docker/Dockerfile is checked by scripts/test-packaging.sh, against the tarball it is
# built from.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/ensure-haproxy.sh
# jq: the documentation pipes JSON into it; a virtualenv holds ansible-core for the example.
# openssl makes the certificate of the sandbox's TLS listener (the cert examples).
ensure_tools "the documentation's examples" haproxy:haproxy jq:jq python3:python3 \
    py.ensurepip:python3-venv openssl:openssl
cargo build --release --quiet
bin=$root/target/release

dir=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-docs.XXXXXX")
. scripts/sandbox.sh
trap 'sandbox_stop; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sandbox_start "$dir" "    stats socket abns@haproxy level admin
    stats socket ipv4@127.0.0.1:$port level admin"
mkdir -p "$dir/home" "$dir/var" "$dir/work" "$dir/bin"
# What the examples read: a batch file, a list of sockets, a program that prints commands.
printf '# weights for the morning\nset server be_app/s1 weight 10\nset server be_app/s2 weight 20\n' \
    >"$dir/work/weights.txt"
printf '%s\n' "$dir/admin.sock" "abns@haproxy" >"$dir/work/lbs.txt"
printf '#!/bin/sh\nfor s in 1 2 3; do echo "set server be_app/s$s weight $s"; done\n' \
    >"$dir/bin/generate-weights"
chmod +x "$dir/bin/generate-weights"
export HOME=$dir/home PATH="$bin:$dir/bin:$PATH:/usr/sbin"
export SOCKCTL_SOCKET=$dir/master.sock SOCKCTL_CONFIG=$dir/lb/haproxy.cfg

substitute() {
    sed -e "s#/run/haproxy-master.sock#$dir/master.sock#g" \
        -e "s#/run/haproxy/master.sock#$dir/master.sock#g" \
        -e "s#/run/haproxy/admin.sock#$dir/admin.sock#g" \
        -e "s#/run/lb1/admin.sock#$dir/admin.sock#g" \
        -e "s#/run/lb2/admin.sock#abns@haproxy#g" \
        -e "s#/var/lib/haproxy/#$dir/var/#g" \
        -e "s#/etc/haproxy/haproxy.cfg#$dir/lb/haproxy.cfg#g" \
        -e "s#/etc/haproxy/\(hosts.map\|allow.acl\|site.pem\)#$dir/lb/\1#g" \
        -e "s#lb1.example:9999#127.0.0.1:$port#g" \
        -e "s#/usr/local/bin/sockctl#$bin/sockctl#g" \
        -e "s#/usr/sbin/haproxy#haproxy#g" \
        -e "s#\${CONFIG}#$dir/lb/haproxy.cfg#g" \
        -e "s#\$EXTRAOPTS##g"
}

failures=0
ran=0
check() { # LABEL EXPECTED_EXIT COMMAND
    local label=$1 expected=$2 command=$3 code=0
    # Redirections into directories that do not exist yet (~/.local/share/…) get them made.
    { grep -oE '> *[^ ]+' <<<"$command" || true; } | sed 's/> *//' | while read -r target; do
        mkdir -p "$(dirname "$(eval echo "$target")")"
    done
    (cd "$dir/work" && bash -o pipefail -c "$command") </dev/null >"$dir/out" 2>"$dir/err" || code=$?
    ran=$((ran + 1))
    if [ "$code" = "$expected" ]; then
        echo "ok   $label"
    else
        failures=$((failures + 1))
        echo "FAIL $label: exit $code, expected $expected"
        echo "     \$ $command"
        sed 's/^/     | /' "$dir/err" | head -n 10
    fi
}

# The sockctl lines of every ```sh block, continuation lines joined, with their place.
doc_lines() {
    python3 - "$@" <<'PY'
import re, sys
for path in sys.argv[1:]:
    lines = open(path).read().split("\n")
    in_sh = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            in_sh = (not in_sh) and line.strip() == "```sh"
            i += 1
            continue
        if in_sh and line.strip():
            start = i + 1
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + lines[i].strip()
            command = line.strip()
            first = command.split()[0]
            if "sockctl " in command and first not in ("cargo", "make", "pip") \
                    and not first.startswith("scripts/"):
                m = re.search(r"#[^#]*\bexits (\d+)", command)
                print(f"{path}:{start}\t{m.group(1) if m else 0}\t{command}")
        i += 1
PY
}

while IFS=$'\t' read -r place expected command; do
    check "$place" "$expected" "$(substitute <<<"$command")"
# docs/services.md needs the other services' servers: tests/services_docs.rs runs its examples;
# docs/fleet-ssh.md needs an sshd: tests/ssh.rs runs its examples.
done < <(doc_lines README.md $(printf '%s\n' docs/*.md | grep -v -e '^docs/services.md$' -e '^docs/fleet-ssh.md$'))

check "examples/python/haproxy_reload.py" 0 \
    "python3 $root/examples/python/haproxy_reload.py --socket $dir/master.sock --config $dir/lb/haproxy.cfg --server be_app/s2"

while read -r line; do
    check "examples/systemd/sockctl-reload.conf: ${line:0:40}…" 0 "$(substitute <<<"$line")"
done < <(sed -n 's/^ExecReload=\(..*\)$/\1/p' examples/systemd/sockctl-reload.conf)

venv=$dir/ansible
if python3 -m venv "$venv" >/dev/null && "$venv/bin/pip" install --quiet ansible-core >/dev/null 2>&1; then
    check "examples/ansible/reload-haproxy.yml" 0 \
        "ANSIBLE_LOCALHOST_WARNING=False $venv/bin/ansible-playbook -i localhost, -c local \
         -e target=localhost -e ansible_become=false -e ansible_python_interpreter=$venv/bin/python \
         -e sockctl=$bin/sockctl \
         -e haproxy_master_socket=$dir/master.sock -e haproxy_config=$dir/lb/haproxy.cfg \
         $root/examples/ansible/reload-haproxy.yml"
else
    failures=$((failures + 1))
    echo "FAIL examples/ansible/reload-haproxy.yml: cannot install ansible-core into a virtualenv (pip install ansible-core)"
fi

echo "documentation examples: $ran checked, $failures failed"
[ "$failures" = 0 ]
