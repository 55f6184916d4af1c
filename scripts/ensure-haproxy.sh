#!/usr/bin/env bash
# Makes sure the system tools the scripts need are installed: installs Debian's packages when
# run as root with apt-get, otherwise says what to install. Sourced by the other scripts.

# ensure_tools WHY CHECK:PACKAGE...: CHECK is a command, or `py.MODULE` for a Python module
# (`py.ensurepip:python3-venv` is what `python3 -m venv` needs on Debian).
ensure_tools() {
    local why=$1 item check missing=()
    shift
    for item in "$@"; do
        check=${item%%:*}
        case $check in
            py.*) python3 -c "import ${check#py.}" 2>/dev/null && continue ;;
            *) { command -v "$check" >/dev/null 2>&1 || [ -x "/usr/sbin/$check" ]; } && continue ;;
        esac
        missing+=("${item#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} ($why; apt-get install -y ${missing[*]})..." >&2
        if [ -z "${ensure_updated:-}" ]; then
            apt-get update -qq >&2 || return 1
            ensure_updated=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
        return $?
    fi
    echo "missing: ${missing[*]} ($why): run 'sudo apt-get install ${missing[*]}' (or your system's equivalent)" >&2
    return 1
}

ensure_haproxy() {
    ensure_tools "a real HAProxy to run against" haproxy:haproxy
}
