#!/usr/bin/env bash
# Builds relaysync's image with buildah, without any container registry:
# the base from base.sh (debootstrap), the three programs of the host's
# CMake build, stripped, and the Debian packages of their libraries as
# dpkg-shlibdeps finds them. Tags it localhost/relaysync:VERSION (the
# project's version: the name deploy/kubernetes uses), then checks inside
# the image that every library resolves and that there is no compiler.
#
#   deploy/container/build.sh [--build-dir=DIR] [--archive=FILE]
#   deploy/container/build.sh --print-image
#
# --build-dir: the CMake build with the programs (default: build/ in the
# repository). --archive: also write the image as an OCI archive, to load
# into a cluster's nodes or push to a registry. Root; needs buildah,
# debootstrap (for base.sh) and dpkg-shlibdeps (dpkg-dev).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^project(relaysync VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
image=localhost/relaysync:$version
programs=(coordinator/relaysync-coordinator agent/relaysync-agent cli/vsmtprelay)

fail() {
  echo "build.sh: $*" >&2
  exit 1
}

build=$repo/build
archive=""
for arg in "$@"; do
  case $arg in
    --print-image) echo "$image"; exit 0 ;;
    --build-dir=*) build=${arg#*=} ;;
    --archive=*) archive=${arg#*=} ;;
    *) fail "unknown argument $arg (see the top of $0)" ;;
  esac
done
[[ -n $version ]] || fail "no project version in $repo/CMakeLists.txt"
[[ $(id -u) -eq 0 ]] || fail "must run as root (buildah)"
for tool in buildah dpkg-shlibdeps strip; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install buildah dpkg-dev binutils)"
done

ctx=$(mktemp -d /tmp/relaysync-image.XXXXXX)
ctr=""
cleanup() {
  [[ -z $ctr ]] || buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT

echo "== the programs of $build, stripped =="
# Laid out as a Debian package's files (debian/relaysync/..., whose DEBIAN/
# marks the root) for dpkg-shlibdeps, then moved to the context's bin/.
staged=$ctx/debian/relaysync/usr/local/bin
mkdir -p "$ctx/bin" "$staged" "$ctx/debian/relaysync/DEBIAN"
for p in "${programs[@]}"; do
  [[ -x $build/$p ]] || fail "no $build/$p: cmake --build $build --target $(basename "$p")"
  if ldd "$build/$p" | grep -q -E 'lib(a|ub|t)san'; then
    fail "$build/$p is a sanitizer build"
  fi
  strip --strip-debug -o "$staged/$(basename "$p")" "$build/$p"
done

echo "== their runtime packages (dpkg-shlibdeps) =="
# dpkg-shlibdeps reads debian/control and prints the Depends field a
# package of these binaries would have: one package per library, with
# the minimum version the host's build needs.
printf 'Source: relaysync\n\nPackage: relaysync\nArchitecture: any\n' >"$ctx/debian/control"
depends=$(cd "$ctx" && dpkg-shlibdeps -O "${staged#"$ctx"/}"/*) || fail "dpkg-shlibdeps failed"
# shlibs:Depends=libabsl20220623 (>= 0~20220623.0-1), libc6 (>= 2.34), ...
packages=$(sed -e 's/^shlibs:Depends=//' -e 's/([^)]*)//g' -e 's/|[^,]*//g' -e 's/,/ /g' <<<"$depends" |
  xargs -n 1 | sort -u | xargs)
[[ -n $packages ]] || fail "no packages in: $depends"
echo "$packages"
mv "$staged"/* "$ctx/bin/"
rm -r "$ctx/debian"

"$here/base.sh"

echo "== buildah build -t $image =="
previous=$(buildah images --quiet "$image" 2>/dev/null || true)
buildah build --isolation chroot --pull=never --layers=false \
  --build-arg "RUNTIME_PACKAGES=$packages" -f "$here/Containerfile" -t "$image" "$ctx"

# The image this one replaces, left without a name: remove it.
if [[ -n $previous && $previous != "$(buildah images --quiet "$image")" ]]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi

echo "== checks inside $image =="
ctr=$(buildah from --pull=never "$image")
run() { buildah run --isolation chroot "$ctr" -- "$@"; }
missing=$(run sh -c 'ldd /usr/local/bin/* | grep "not found" || true')
[[ -z $missing ]] || fail "libraries missing in the image: $missing"
compilers=$(run sh -c 'for c in cc gcc g++ c++ clang clang++ as ld; do command -v $c || true; done')
[[ -z $compilers ]] || fail "the image has a compiler or toolchain: $compilers"
[[ $(buildah inspect --format '{{.OCIv1.Config.User}}' "$image") == 65532:65532 ]] ||
  fail "the image's user is not 65532:65532"
echo "ok: every library resolves, no compiler, user 65532:65532"

if [[ -n $archive ]]; then
  echo "== $archive =="
  rm -f "$archive"
  buildah push --quiet "$image" "oci-archive:$archive:$image"
fi
echo "build.sh: built $image ($(buildah inspect --format '{{.OCIv1.Config.User}}' "$image"))"
