#!/usr/bin/env bash
# The packages operators install, both from the static (musl) binary that `make static` leaves
# in target/static/sockctl, which runs on any x86_64 Linux:
#   scripts/package.sh deb    target/dist/sockctl_VERSION-1_amd64.deb          (make deb)
#   scripts/package.sh dist   target/dist/sockctl-VERSION-x86_64-linux.tar.gz  (make dist)
# Both hold the binary, one manual page per subcommand, the bash, zsh and fish completions, the
# README and the licences. The version is Cargo.toml's.
#
# The .deb is staged as a tree and built with plain `dpkg-deb --build`, not cargo-deb: dpkg-deb
# is on every Debian and Ubuntu machine (CI's included) and builds in a second, where a fresh CI
# machine would first compile cargo-deb and its dependencies (`cargo install cargo-deb`); and
# what cargo-deb would write for us (control, md5sums, copyright, changelog) is short, and
# written below.
#
# Reproducible: every file dated $SOURCE_DATE_EPOCH (default: the last commit's time), owned by
# root:root (0:0 in the tarball), compressed with `gzip -9n`, listed in name order; the same
# binary and sources give the same bytes. $DEB_MAINTAINER overrides the package's Maintainer.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh

[ $# -gt 0 ] || { echo "usage: scripts/package.sh deb|dist..." >&2; exit 2; }
for what in "$@"; do
    case $what in
        deb | dist) ;;
        *) echo "scripts/package.sh: unknown package '$what' (deb or dist)" >&2; exit 2 ;;
    esac
done

bin=target/static/sockctl
[ -x "$bin" ] || { echo "$bin is missing: run 'make static' first" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
case $("$bin" --version) in
    "sockctl $version" | "sockctl $version "*) ;;
    *) echo "$bin is not sockctl $version (it says: $("$bin" --version)): run 'make static'" >&2; exit 1 ;;
esac
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y Cargo.toml)
fi
export SOURCE_DATE_EPOCH
maintainer=${DEB_MAINTAINER:-sockctl maintainers <maintainers@users.noreply.r-seed-0e0f9243.example>}
umask 022
export LC_ALL=C

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-package.XXXXXX")
trap 'rm -rf "$tmp" target/dist/*.tmp' EXIT
mkdir -p target/dist

# The manual pages as `make man` writes them, from the clap definitions. The generator is built
# without --release: the pages are the same, and `cargo test --features man` (scripts/test.sh)
# has already built this one.
cargo run --quiet --features man --bin sockctl-man -- "$tmp/man" >&2
[ -f "$tmp/man/sockctl.1" ] || { echo "the manual page generator wrote no sockctl.1" >&2; exit 1; }

# stage_common DIR BIN MAN_DIR BASH ZSH FISH: the binary, pages and completions at those places
# under DIR.
stage_common() {
    local dir=$1 page
    install -D -m 0755 "$bin" "$dir/$2"
    mkdir -p "$dir/$3"
    for page in "$tmp"/man/*.1; do
        install -m 0644 "$page" "$dir/$3/"
    done
    mkdir -p "$(dirname "$dir/$4")" "$(dirname "$dir/$5")" "$(dirname "$dir/$6")"
    "$bin" completions bash >"$dir/$4"
    "$bin" completions zsh >"$dir/$5"
    "$bin" completions fish >"$dir/$6"
    chmod 0644 "$dir/$4" "$dir/$5" "$dir/$6"
}

# Every file and directory dated $SOURCE_DATE_EPOCH.
set_dates() {
    find "$1" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
}

build_deb() {
    # A Cargo pre-release (1.0.0-rc.1) sorts before its release in Debian only as 1.0.0~rc.1.
    local debversion=${version//-/\~}-1 root=$tmp/deb out doc size
    out=target/dist/sockctl_${debversion}_amd64.deb
    doc=$root/usr/share/doc/sockctl
    mkdir -p "$root/DEBIAN"
    chmod 0755 "$root"
    stage_common "$root" usr/bin/sockctl usr/share/man/man1 \
        usr/share/bash-completion/completions/sockctl \
        usr/share/zsh/vendor-completions/_sockctl \
        usr/share/fish/vendor_completions.d/sockctl.fish
    gzip -9n "$root"/usr/share/man/man1/*.1
    install -D -m 0644 README.md "$doc/README.md"
    gzip -9n "$doc/README.md"
    # Debian's machine-readable copyright format; Apache-2.0 is in /usr/share/common-licenses,
    # MIT is not, so its text is here in full.
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: sockctl"
        echo
        echo "Files: *"
        echo "Copyright: $(sed -n 's/^Copyright (c) //p' LICENSE-MIT)"
        echo "License: MIT or Apache-2.0"
        echo
        echo "License: MIT"
        sed -e '1,/^Copyright/d' -e 's/^$/./' -e 's/^/ /' LICENSE-MIT | sed '1{/^ \.$/d}'
        echo
        echo "License: Apache-2.0"
        echo " On Debian systems, the full text of the Apache License, Version 2.0 can be"
        echo " found in /usr/share/common-licenses/Apache-2.0."
    } >"$doc/copyright"
    {
        echo "sockctl ($debversion) unstable; urgency=medium"
        echo
        echo "  * sockctl $version, packaged from its static (musl) build."
        echo
        echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    } >"$tmp/changelog.Debian"
    gzip -9n -c "$tmp/changelog.Debian" >"$doc/changelog.Debian.gz"
    # The lintian warnings we accept, each with its reason, shipped where lintian reads them.
    mkdir -p "$root/usr/share/lintian/overrides"
    cat >"$root/usr/share/lintian/overrides/sockctl" <<'EOF'
# Built by the project, not uploaded to Debian: there is no ITP bug to close.
sockctl: initial-upload-closes-no-bugs
# The binary is static-pie (statically linked, position-independent), an ELF object of type
# DYN, so lintian takes it for a shared library without DT_NEEDED entries: it needs none.
sockctl: shared-library-lacks-prerequisites [usr/bin/sockctl]
EOF
    chmod 0644 "$doc/copyright" "$doc/changelog.Debian.gz" \
        "$root/usr/share/lintian/overrides/sockctl"
    # Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up; 1 for the rest.
    size=$(find "$root" -path "$root/DEBIAN" -prune -o -mindepth 1 -printf '%y %s\n' |
        awk '{ n += ($1 == "f") ? int(($2 + 1023) / 1024) : 1 } END { print n }')
    cat >"$root/DEBIAN/control" <<EOF
Package: sockctl
Version: $debversion
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $size
Section: admin
Priority: optional
Description: client for the admin sockets of Unix services (HAProxy first)
 sockctl sends commands to the administrative sockets of Unix services,
 HAProxy's runtime API and master CLI first, and reads every reply to its
 end: it half-closes the connection so the server knows the command is
 complete and reads until a clean EOF, so a short read is never taken for a
 whole reply; a timeout, reset or oversized reply is an error with its own
 exit code.
 .
 It replaces socat and nc one-liners, hand-written socket clients and
 hatop-style scripts: one command per connection with bytes passed through
 exactly, output files replaced atomically, HAProxy's server state saved and
 validated, reloads verified, an interactive shell with completion, JSON
 output and exit codes meant for scripts.
 .
 This package holds a statically linked binary, with manual pages and bash,
 zsh and fish completions.
EOF
    (cd "$root" && find usr -type f | sort | xargs md5sum) >"$root/DEBIAN/md5sums"
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
    set_dates "$root"
    dpkg-deb --root-owner-group -Zxz --build "$root" "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
    echo "$out"
}

build_dist() {
    local name=sockctl-$version-x86_64-linux top out
    top=$tmp/$name
    out=target/dist/$name.tar.gz
    mkdir -p "$top"
    chmod 0755 "$top"
    stage_common "$top" sockctl man/man1 completions/sockctl.bash completions/_sockctl \
        completions/sockctl.fish
    install -m 0644 README.md LICENSE-MIT LICENSE-APACHE "$top/"
    (cd "$top" && find . -type f | sed 's|^\./||' | sort | xargs sha256sum) >"$tmp/SHA256SUMS"
    install -m 0644 "$tmp/SHA256SUMS" "$top/"
    set_dates "$top"
    tar -C "$tmp" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
        -cf - "$name" | gzip -9n >"$out.tmp"
    mv "$out.tmp" "$out"
    echo "$out"
}

for what in "$@"; do
    case $what in
        deb)
            ensure_tools "make deb" dpkg-deb:dpkg
            build_deb
            ;;
        dist) build_dist ;;
    esac
done
