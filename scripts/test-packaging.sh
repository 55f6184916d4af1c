#!/usr/bin/env bash
# Packaging as a user meets it: the static binary, the Debian package and the release tarball
# built from it (when the musl target is installed), and the pip wheel installed into a fresh
# virtualenv. Prints the sizes for the release notes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-haproxy.sh
ensure_tools "the packaging tests" python3:python3 py.ensurepip:python3-venv file:file
musl=x86_64-unknown-linux-musl
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockctl-packaging.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Lists the regular files under DIR, relative to it, in name order.
files_under() {
    (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

# man PAGE from MANPATH=$1, rendered as text; fails unless it has the page's usual sections.
check_man() {
    local out
    out=$(MANPATH=$1 MANWIDTH=80 man -P cat "$2" 2>&1) || fail "man $2 (MANPATH=$1): $(tr '\n' ' ' <<<"$out")"
    grep -q '^NAME' <<<"$out" && grep -q '^SYNOPSIS' <<<"$out" ||
        fail "man $2 did not render a NAME and a SYNOPSIS: $(head -n3 <<<"$out")"
}

# The installed bash completion, loaded as bash-completion loads it for the first <TAB> on
# `sockctl`, completes `sockctl hap<TAB>` to haproxy. $1: the root the package went to.
check_bash_completion() {
    local out
    out=$(env -i PATH="$1/usr/bin:/usr/bin:/bin" HOME="$tmp" XDG_DATA_DIRS="$1/usr/share" \
        bash --norc --noprofile -c '
        . /usr/share/bash-completion/bash_completion
        __load_completion sockctl || { echo "no completion for sockctl was found"; exit 1; }
        fn=$(complete -p sockctl | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
        shopt -s extdebug
        echo "loaded from $(declare -F "$fn" | cut -d" " -f3-)"
        COMP_WORDS=(sockctl hap) COMP_CWORD=1 COMP_LINE="sockctl hap" COMP_POINT=11
        "$fn" sockctl hap sockctl
        echo "completions: ${COMPREPLY[*]}"' 2>&1) || fail "bash completion: $(tr '\n' ' ' <<<"$out")"
    grep -qx "loaded from $1/usr/share/bash-completion/completions/sockctl" <<<"$out" &&
        grep -qx 'completions: haproxy' <<<"$out" ||
        fail "bash completion of 'sockctl hap<TAB>' did not give haproxy: $(tr '\n' ' ' <<<"$out")"
}

check_deb() {
    local deb=$1 info contents expected root dpkg_root out
    info=$(dpkg-deb --info "$deb")
    for field in "Package: sockctl" "Version: ${version//-/\~}-1" "Architecture: amd64" \
        "Section: admin" "Priority: optional" "Installed-Size: " "Maintainer: "; do
        grep -q "^ $field" <<<"$info" || fail "$deb: dpkg-deb --info has no '$field'"
    done
    if grep -Eq '^ (Pre-)?Depends:' <<<"$info"; then
        fail "$deb depends on other packages; a static binary needs none"
    fi
    grep -q 'socat and nc one-liners' <<<"$info" || fail "$deb: the description does not say what sockctl replaces"

    contents=$(dpkg-deb --contents "$deb")
    if awk '$2 != "root/root"' <<<"$contents" | grep -q .; then
        fail "$deb has files not owned by root:root"
    fi
    # Exactly these files: the binary, a gzipped page for each page of the tarball, the
    # completions, the documentation and the lintian overrides.
    expected=$( {
        printf '%s\n' usr/bin/sockctl \
            usr/share/bash-completion/completions/sockctl \
            usr/share/zsh/vendor-completions/_sockctl \
            usr/share/fish/vendor_completions.d/sockctl.fish \
            usr/share/doc/sockctl/README.md.gz \
            usr/share/doc/sockctl/copyright \
            usr/share/doc/sockctl/changelog.Debian.gz \
            usr/share/lintian/overrides/sockctl
        (cd "$tmp/dist/$name/man/man1" && ls) | sed 's|^|usr/share/man/man1/|; s|$|.gz|'
    } | LC_ALL=C sort)
    diff <(echo "$expected") <(awk '$1 !~ /^d/ { sub("^\\./", "", $6); print $6 }' <<<"$contents" | LC_ALL=C sort) >&2 ||
        fail "$deb: dpkg-deb --contents differs from the expected files (- expected, + in the package)"
    grep -q '^-rwxr-xr-x root/root .* \./usr/bin/sockctl$' <<<"$contents" ||
        fail "$deb: /usr/bin/sockctl is not mode 0755"

    # No error, and no warning but those the package's overrides file accepts (with reasons).
    out=$(lintian --fail-on error,warning "$deb" 2>&1) ||
        fail "lintian $deb: $(grep -v '^running with root' <<<"$out" | tr '\n' ' ')"
    echo "lintian: no errors, no warnings but those the package overrides, with reasons:" \
        "$(sed -n 's/^sockctl: \([^ ]*\).*/\1/p' "$tmp/overrides" | paste -sd ' ')"

    # Installed by dpkg into a throwaway root with its own empty database: the machine's own
    # packages and files are never touched.
    root=$tmp/root
    mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
    : >"$root/var/lib/dpkg/status"
    dpkg_root=(dpkg --root="$root" --log="$root/var/log/dpkg.log")
    [ "$(id -u)" = 0 ] || dpkg_root+=(--force-not-root)
    out=$("${dpkg_root[@]}" -i "$deb" 2>&1) || fail "dpkg -i $deb into a throwaway root: $(tr '\n' ' ' <<<"$out")"
    case $("$root/usr/bin/sockctl" --version) in
        "sockctl $version"*) ;;
        *) fail "the installed /usr/bin/sockctl says: $("$root/usr/bin/sockctl" --version)" ;;
    esac
    check_man "$root/usr/share/man" sockctl
    check_man "$root/usr/share/man" sockctl-haproxy-reload
    check_bash_completion "$root"
    head -n1 "$root/usr/share/zsh/vendor-completions/_sockctl" | grep -q '^#compdef sockctl' ||
        fail "the zsh completion does not start with '#compdef sockctl'"
    out=$("${dpkg_root[@]}" --purge sockctl 2>&1) || fail "dpkg --purge sockctl: $(tr '\n' ' ' <<<"$out")"
    [ -z "$(find "$root/usr" -type f 2>/dev/null)" ] || fail "dpkg --purge left files: $(find "$root/usr" -type f | tr '\n' ' ')"
    echo "deb: $(basename "$deb") $(stat -c %s "$deb") bytes; installs into a throwaway root (man sockctl renders, sockctl hap<TAB> completes) and purges clean"
}

check_dist() {
    local tarball=$1 top listed dir=$tmp/dist
    mkdir -p "$dir"
    tar -xzf "$tarball" -C "$dir"
    top=$(ls "$dir")
    [ "$top" = "$name" ] || fail "$tarball: expected one top directory $name/, found: $(tr '\n' ' ' <<<"$top")"
    top=$dir/$top
    (cd "$top" && sha256sum --check --strict --quiet SHA256SUMS) || fail "$tarball: SHA256SUMS does not verify"
    listed=$(sed 's/^[0-9a-f]\{64\}  //' "$top/SHA256SUMS" | LC_ALL=C sort)
    [ "$listed" = "$(files_under "$top" | grep -vx SHA256SUMS)" ] ||
        fail "$tarball: SHA256SUMS does not list exactly the other files"
    for f in sockctl README.md LICENSE-MIT LICENSE-APACHE man/man1/sockctl.1 man/man1/sockctl-send.1 \
        man/man1/sockctl-haproxy-reload.1 completions/sockctl.bash completions/_sockctl completions/sockctl.fish; do
        [ -f "$top/$f" ] || fail "$tarball has no $name/$f"
    done
    cmp -s "$top/sockctl" target/static/sockctl || fail "$tarball: its sockctl is not target/static/sockctl"
    "$top/sockctl" --version >/dev/null
    check_man "$top/man" sockctl
    echo "tarball: $(basename "$tarball") $(stat -c %s "$tarball") bytes; unpacks into $name/, SHA256SUMS verifies"
}

# examples/docker/Dockerfile builds from the tarball: what its ADD would unpack (default VERSION)
# holds each file its COPY --from takes. Building the image itself needs a container engine.
check_dockerfile() {
    local file=examples/docker/Dockerfile default src dest copied ctx=$tmp/docker
    default=$(sed -n 's/^ARG VERSION=//p' "$file")
    [ "$default" = "$version" ] || fail "$file: ARG VERSION=$default, but Cargo.toml says $version"
    read -r src dest < <(sed -n 's/^ADD \([^ ]*\) \([^ ]*\)$/\1 \2/p' "$file") ||
        fail "$file has no 'ADD TARBALL DIR' line"
    src=${src//\$\{VERSION\}/$version}
    [ -f "target/dist/$src" ] || fail "$file adds $src, which 'make dist' does not build (its context is target/dist)"
    mkdir -p "$ctx/$dest"
    tar -xzf "target/dist/$src" -C "$ctx/$dest"
    copied=$(sed -n 's/^COPY --from=[^ ]* \(.*\) [^ ]*$/\1/p' "$file")
    [ -n "$copied" ] || fail "$file copies nothing from the unpacked tarball"
    for src in ${copied//\$\{VERSION\}/$version}; do
        compgen -G "$ctx/$src" >/dev/null || fail "$file copies $src, which the tarball does not hold"
    done
    echo "ok   $file: the tarball it adds holds what it copies (building it needs a container engine)"
}

if ls "$(rustc --print target-libdir --target $musl 2>/dev/null)"/libstd-* >/dev/null 2>&1; then
    make -s static >/dev/null
    bin=target/static/sockctl
    file "$bin" | grep -q 'static' || { echo "not static: $(file "$bin")" >&2; exit 1; }
    if ldd "$bin" 2>&1 | grep -q '=>'; then
        echo "static binary links shared libraries:" >&2; ldd "$bin" >&2; exit 1
    fi
    "$bin" --version >/dev/null
    echo "static binary: $(stat -c %s "$bin") bytes ($(file -b "$bin" | cut -d, -f1-2))"

    # The .deb and the tarball, from this binary; built twice to show the bytes do not change.
    ensure_tools "the package tests" dpkg-deb:dpkg lintian:lintian man:man-db \
        /usr/share/bash-completion/bash_completion:bash-completion
    name=sockctl-$version-x86_64-linux
    deb=target/dist/sockctl_${version//-/\~}-1_amd64.deb
    tarball=target/dist/$name.tar.gz
    rm -f "$deb" "$tarball"
    ./scripts/package.sh deb dist >/dev/null
    mkdir -p "$tmp/first"
    cp "$deb" "$tarball" "$tmp/first/"
    sleep 1
    ./scripts/package.sh deb dist >/dev/null
    cmp -s "$deb" "$tmp/first/$(basename "$deb")" || fail "two builds of $deb differ"
    cmp -s "$tarball" "$tmp/first/$(basename "$tarball")" || fail "two builds of $tarball differ"
    echo "deb and tarball: the same bytes from two builds"
    dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/lintian/overrides/sockctl >"$tmp/overrides"
    check_dist "$tarball"
    check_deb "$deb"
    check_dockerfile
    for f in "$deb" "$tarball"; do
        grep -qF "$(basename "$f")" README.md || fail "README.md does not name $(basename "$f") (is its Install section up to date?)"
    done
else
    echo "skipping the static build, the .deb and the tarball: run 'rustup target add $musl' to enable them"
fi

venv=$tmp/venv
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip >/dev/null
"$venv/bin/pip" wheel --quiet . --no-deps -w "$venv/wheels"
wheel=$(ls "$venv"/wheels/sockctl-*.whl)
"$venv/bin/pip" install --quiet "$wheel"
version_out=$("$venv/bin/sockctl" --version)
case $version_out in
    "sockctl $version"*) ;;
    *) echo "unexpected version from the wheel's binary: $version_out" >&2; exit 1 ;;
esac
echo "wheel: $(basename "$wheel") $(stat -c %s "$wheel") bytes; installed binary says: $version_out"
