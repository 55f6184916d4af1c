#!/usr/bin/env bash
# Makes sure HAProxy is installed: installs Debian's package when run as root, otherwise says
# what to install. Sourced by the other scripts.
ensure_haproxy() {
    if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing haproxy (apt-get install -y haproxy)..." >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2
        return $?
    fi
    echo "haproxy is not installed: run 'sudo apt-get install haproxy' (or your system's equivalent)" >&2
    return 1
}
