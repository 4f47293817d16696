#!/usr/bin/env bash
# Makes the image's base without any container registry: a minimal Debian 12
# (debootstrap --variant=minbase) from the Debian archive this host uses,
# with the host's apt sources (so the image installs the same package
# versions the host's binaries were built against), imported into buildah's
# storage as localhost/relaysync-base:bookworm. Takes a few minutes; build.sh
# calls it when the base is missing.
#
#   deploy/container/base.sh [--force]     (root; needs debootstrap, buildah)
set -euo pipefail

base=localhost/relaysync-base:bookworm

fail() {
  echo "base.sh: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (debootstrap)"
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install $tool)"
done
if [[ ${1:-} != --force ]] && buildah inspect --type image "$base" >/dev/null 2>&1; then
  echo "base.sh: $base exists (--force to make it again)"
  exit 0
fi

# The host's Debian sources: deb822 (Debian 12's default) or one-line.
sources=/etc/apt/sources.list.d/debian.sources
[[ -s $sources ]] || sources=/etc/apt/sources.list
[[ -s $sources ]] || fail "no Debian apt sources on this host"
if [[ $sources == *.sources ]]; then
  mirror=$(awk '$1 == "URIs:" { print $2; exit }' "$sources")
else
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' "$sources")
fi
[[ -n $mirror ]] || fail "no bookworm mirror in $sources"

work=$(mktemp -d /var/tmp/relaysync-base.XXXXXX)
ctr=""
cleanup() {
  [[ -z $ctr ]] || buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== debootstrap --variant=minbase bookworm ($mirror) =="
debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/log" 2>&1 ||
  fail "debootstrap failed: $(tail -n 20 "$work/log")"
rm -f "$work/root/etc/apt/sources.list"
cp "$sources" "$work/root$sources"
rm -rf "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/lib/apt/lists/*

echo "== import as $base =="
ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
tar -C "$work/root" -cf - . | tar -C "$mnt" -xpf -
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd /bin/bash "$ctr"
buildah commit --quiet --rm "$ctr" "$base" >/dev/null
ctr=""
echo "base.sh: made $base"
