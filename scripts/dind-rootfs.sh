# shellcheck shell=bash
# The base of the containerd-in-docker image (deploy/containerd-in-docker):
# a minimal Debian 12 root made with debootstrap from Debian's own archive (no
# registry image can be pulled here), packed as DIR/rootfs.tar. Sourced by
# scripts/image. Cached: rebuilt only when the recipe below changes, so a
# repeated build costs nothing here (the first one takes about 1.5 minutes).

DIND_SUITE=bookworm
# containerd pulls in runc; iptables for the agent's bridge and awsvpc rules;
# ca-certificates for TLS to ECS and registries. minbase brings bash,
# coreutils and apt, nothing else.
DIND_PACKAGES=containerd,runc,iptables,ca-certificates
# Left out of the image: the .debs debootstrap keeps, apt's lists, docs,
# manuals and translations (about 160 of 355 MB).
DIND_TRIM=(var/cache/apt/archives var/lib/apt/lists usr/share/doc usr/share/man
    usr/share/locale usr/share/info)

# The host's Debian mirror (deb822 sources), else deb.debian.org.
dind_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local uri
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
    echo "${uri:-http://deb.debian.org/debian}"
}

# dind_rootfs DIR: make sure DIR/rootfs.tar is the current recipe's root.
dind_rootfs() {
    local dir="$1" mirror recipe stamp tmp started
    mirror="$(dind_mirror)"
    recipe="suite=$DIND_SUITE packages=$DIND_PACKAGES trim=${DIND_TRIM[*]} v=1"
    stamp="$(printf '%s' "$recipe" | sha256sum | cut -d' ' -f1)"
    if [ -s "$dir/rootfs.tar" ] && [ "$(cat "$dir/rootfs.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap not found (scripts/setup installs it)"
    mkdir -p "$dir"
    tmp="$(mktemp -d "$dir/rootfs.XXXXXX")"
    started=$SECONDS
    log "debootstrap --variant=minbase $DIND_SUITE from $mirror (once; cached in $dir/rootfs.tar)"
    if ! debootstrap --variant=minbase --include="$DIND_PACKAGES" \
        "$DIND_SUITE" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
        tail -n 20 "$tmp/debootstrap.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed (log above)"
    fi
    local d
    for d in "${DIND_TRIM[@]}"; do
        rm -rf "${tmp:?}/root/$d"
        mkdir -p "$tmp/root/$d"
    done
    # Docker gives the container its own /dev, /proc and /sys.
    rm -rf "$tmp/root/dev" "$tmp/root/proc" "$tmp/root/sys"
    mkdir -p "$tmp/root/dev" "$tmp/root/proc" "$tmp/root/sys"
    tar --numeric-owner -C "$tmp/root" -cf "$tmp/rootfs.tar" .
    mv -f "$tmp/rootfs.tar" "$dir/rootfs.tar"
    echo "$stamp" >"$dir/rootfs.stamp"
    rm -rf "$tmp"
    log "debian root: $(du -h "$dir/rootfs.tar" | cut -f1) in $((SECONDS - started)) s"
}
