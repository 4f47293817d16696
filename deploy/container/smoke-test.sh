#!/usr/bin/env bash
# Builds relaysync's image and runs it: the part of deploy/container that CI
# does not run (debootstrap and the build take minutes and Debian's
# archive). Each step is timed:
#  1. buildah and debootstrap (apt-get, when missing); the three programs
#     of the host's CMake build;
#  2. build.sh: the base (debootstrap), localhost/relaysync:VERSION, its OCI
#     archive;
#  3. the image's coordinator, started with `buildah run` (chroot isolation,
#     the host's network) as the image's user, on 127.0.0.1 only, with the
#     Kubernetes manifests' paths: /etc/relaysync/tls/{tls.crt,tls.key,ca.crt}
#     from scripts/make-certs.sh, its store in /var/lib/relaysync-coordinator;
#  4. from the host, grpc.health.v1 on its health port (plaintext) and on its
#     gRPC port (mutual TLS), with `buf curl` (npm @bufbuild/buf);
#  5. two agents of the host's build, mx1 and mx2 (mutual TLS): a login
#     notified to mx1 reaches mx2's relayers.db through the image's
#     coordinator (vsmtprelay --db), vsmtprelay --coordinator lists it and
#     the coordinator's metrics count the merge.
#
#   deploy/container/smoke-test.sh [--build-dir=DIR] [--keep]
#
# Root. --keep leaves the scratch folder (logs, certificates) in place.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
keep=false
for arg in "$@"; do
  case $arg in
    --build-dir=*) build=${arg#*=} ;;
    --keep) keep=true ;;
    *) echo "smoke-test.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

fail() {
  echo "smoke-test.sh: FAIL: $*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "must run as root (apt-get, buildah)"

timings=()
step_start=$(date +%s.%N)
# step NAME: closes the previous step's timing and announces NAME.
step() {
  local now
  now=$(date +%s.%N)
  [[ -z ${step_name:-} ]] ||
    timings+=("$(awk -v a="$step_start" -v b="$now" -v n="$step_name" 'BEGIN { printf "%6.1f s  %s", b - a, n }')")
  step_start=$now
  step_name=$1
  [[ -z $1 ]] || echo "== $1 =="
}

tmp=$(mktemp -d /tmp/relaysync-smoke.XXXXXX)
ctr=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -z $ctr ]] || buildah rm "$ctr" >/dev/null 2>&1 || true
  if $keep; then echo "smoke-test.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

step "tools: buildah, debootstrap; @bufbuild/buf"
missing=()
for tool in buildah debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$tmp/apt.log" 2>&1 ||
    fail "apt-get install ${missing[*]}: $(tail -n 5 "$tmp/apt.log")"
fi
npm install --no-audit --no-fund --prefix "$tmp/buf" @bufbuild/buf@1.75.0 >"$tmp/npm.log" 2>&1 ||
  fail "npm install @bufbuild/buf: $(tail -n 5 "$tmp/npm.log")"
buf=$tmp/buf/node_modules/.bin/buf

step "the host's build: $build"
export CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1
[[ -f $build/CMakeCache.txt ]] || cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/cmake.log"
cmake --build "$build" -j"${RELAYSYNC_JOBS:-2}" --target relaysync-coordinator relaysync-agent vsmtprelay \
  >>"$tmp/cmake.log" 2>&1 || fail "cmake --build: $(tail -n 20 "$tmp/cmake.log")"

step "build.sh (the base, then the image)"
"$here/build.sh" --build-dir="$build" --archive="$tmp/relaysync.oci.tar"
image=$("$here/build.sh" --print-image)
index=$(tar -xOf "$tmp/relaysync.oci.tar" index.json) || fail "the OCI archive has no index.json"
[[ $index == *"\"$image\""* ]] || fail "the OCI archive does not name $image: $index"
echo "image $image: $(buildah images --format '{{.Size}}' "$image"), OCI archive" \
  "$(du -h "$tmp/relaysync.oci.tar" | cut -f 1)"

step "certificates (scripts/make-certs.sh) and free ports"
"$repo/scripts/make-certs.sh" --coordinator=localhost,127.0.0.1 --agent=mx1 --agent=mx2 \
  --admin=smoke "$tmp/ca" >/dev/null
# As the Secret relaysync-coordinator-tls is mounted: tls.crt, tls.key,
# ca.crt, readable by the image's uid (defaultMode 0440, fsGroup 65532).
mkdir -p "$tmp/tls" "$tmp/data"
cp "$tmp/ca/coordinator.pem" "$tmp/tls/tls.crt"
cp "$tmp/ca/coordinator.key" "$tmp/tls/tls.key"
cp "$tmp/ca/ca.pem" "$tmp/tls/ca.crt"
chown -R 65532:65532 "$tmp/tls" "$tmp/data"
chmod 0440 "$tmp/tls"/*
chmod 0700 "$tmp/data"
read -r grpc_port health_port metrics_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

echo "ports: gRPC $grpc_port, health $health_port, metrics $metrics_port"

step "the image's coordinator (buildah run)"
ctr=$(buildah from --pull=never "$image")
buildah run --isolation chroot \
  -v "$tmp/tls:/etc/relaysync/tls:ro" -v "$tmp/data:/var/lib/relaysync-coordinator" "$ctr" -- \
  /usr/local/bin/relaysync-coordinator --listen="127.0.0.1:$grpc_port" \
  --tls-cert=/etc/relaysync/tls/tls.crt --tls-key=/etc/relaysync/tls/tls.key \
  --tls-client-ca=/etc/relaysync/tls/ca.crt --health-listen="127.0.0.1:$health_port" \
  --metrics-listen="127.0.0.1:$metrics_port" --store=embedded \
  --data-dir=/var/lib/relaysync-coordinator --expire-after=30m \
  >"$tmp/coordinator.log" 2>&1 &
pids+=($!)
coordinator=""
for _ in $(seq 100); do
  coordinator=$(ss -ltnpH "sport = :$grpc_port" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d = -f 2 || true)
  [[ -n $coordinator ]] && break
  sleep 0.1
done
[[ -n $coordinator ]] || fail "the coordinator does not listen: $(cat "$tmp/coordinator.log")"
pids=("$coordinator" "${pids[@]}")
uid=$(ps -o uid= -p "$coordinator" | tr -d ' ')
exe=$(readlink "/proc/$coordinator/exe")
mnt=$(buildah mount "$ctr")
echo "pid $coordinator, uid $uid, $exe"
[[ $uid == 65532 ]] || fail "the coordinator runs as uid $uid, not 65532"
# The image's binary (stripped: not the host's), with the image's libraries
# (mapped from under the process's root, buildah's view of the container).
root=$(readlink "/proc/$coordinator/root")
cmp -s "/proc/$coordinator/exe" "$mnt/usr/local/bin/relaysync-coordinator" ||
  fail "the coordinator is not the image's /usr/local/bin/relaysync-coordinator"
grpc_lib=$(grep -o '/[^ ]*/libgrpc++\.so[.0-9]*$' "/proc/$coordinator/maps" | head -n 1)
echo "root $root, $grpc_lib"
[[ -n $grpc_lib && $grpc_lib == "$root"/* && $root != / ]] ||
  fail "the coordinator's libgrpc++ is ${grpc_lib:-not mapped}, not under its root $root"
ss -ltnH | awk '{print $4}' | grep -E ":($grpc_port|$health_port|$metrics_port)\$" | sort |
  while read -r address; do
    [[ $address == 127.0.0.1:* || $address == '[::ffff:127.0.0.1]:'* ]] ||
      fail "the coordinator listens on $address"
    echo "listens on $address"
  done

step "grpc.health.v1 from the host (buf curl)"
health_proto=/usr/share/grpc-proto/grpc/health/v1/health.proto
[[ -f $health_proto ]] || fail "no $health_proto (grpc-proto)"
for _ in $(seq 50); do
  answer=$("$buf" curl --schema "$health_proto" --protocol grpc --http2-prior-knowledge \
    "http://127.0.0.1:$health_port/grpc.health.v1.Health/Check" 2>&1 || true)
  [[ $answer == *SERVING* ]] && break
  sleep 0.2
done
echo "health port: $answer"
[[ $answer == *'"SERVING"'* ]] || fail "health port: $answer"
answer=$("$buf" curl --schema "$health_proto" --protocol grpc --cacert "$tmp/ca/ca.pem" \
  --cert "$tmp/ca/admin-smoke.pem" --key "$tmp/ca/admin-smoke.key" \
  "https://127.0.0.1:$grpc_port/grpc.health.v1.Health/Check" 2>&1 || true)
echo "gRPC port, mutual TLS: $answer"
[[ $answer == *'"SERVING"'* ]] || fail "gRPC port: $answer"
if "$buf" curl --schema "$health_proto" --protocol grpc --cacert "$tmp/ca/ca.pem" \
  "https://127.0.0.1:$grpc_port/grpc.health.v1.Health/Check" >"$tmp/nocert.log" 2>&1; then
  fail "the gRPC port answered a client without a certificate"
fi
echo "gRPC port without a client certificate: refused"

step "a login through the image's coordinator (host agents mx1, mx2)"
agent=$build/agent/relaysync-agent
vsmtprelay=$build/cli/vsmtprelay
for host in mx1 mx2; do
  mkdir -p "$tmp/$host"
  "$agent" --coordinator="127.0.0.1:$grpc_port" --host-id="$host" --tls-ca="$tmp/ca/ca.pem" \
    --tls-cert="$tmp/ca/agent-$host.pem" --tls-key="$tmp/ca/agent-$host.key" \
    --db="$tmp/$host/relayers.db" --spool-dir="$tmp/$host/spool" \
    --notify-socket="$tmp/$host/notify.sock" >"$tmp/$host.log" 2>&1 &
  pids+=($!)
done
for host in mx1 mx2; do
  for _ in $(seq 100); do [[ -S $tmp/$host/notify.sock ]] && break; sleep 0.1; done
  [[ -S $tmp/$host/notify.sock ]] || fail "agent $host did not start: $(cat "$tmp/$host.log")"
done
"$agent" notify --socket="$tmp/mx1/notify.sock" --protocol=imap 192.0.2.10 alice
seen=false
for _ in $(seq 150); do
  if "$vsmtprelay" --db="$tmp/mx2/relayers.db" dump 2>/dev/null | grep -q '^192\.0\.2\.10[[:space:]]'; then
    seen=true
    break
  fi
  sleep 0.2
done
$seen || fail "192.0.2.10 did not reach mx2's map: $(tail -n 5 "$tmp/mx2.log")"
echo "mx2's relayers.db: $("$vsmtprelay" --db="$tmp/mx2/relayers.db" dump | grep '^192\.0\.2\.10')"
cluster=$("$vsmtprelay" --coordinator="127.0.0.1:$grpc_port" --tls-ca="$tmp/ca/ca.pem" \
  --tls-cert="$tmp/ca/admin-smoke.pem" --tls-key="$tmp/ca/admin-smoke.key" dump)
grep -q '^192\.0\.2\.10[[:space:]]' <<<"$cluster" || fail "vsmtprelay --coordinator dump: $cluster"
echo "vsmtprelay --coordinator dump: $(grep '^192\.0\.2\.10' <<<"$cluster")"
merged=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" |
  sed -n 's/^relaysync_coordinator_logins_merged_total \([0-9.e+]*\)$/\1/p')
echo "relaysync_coordinator_logins_merged_total $merged"
[[ -n $merged && $merged != 0 ]] || fail "the coordinator's metrics count no merge"

step "stop"
kill "$coordinator"
for _ in $(seq 100); do kill -0 "$coordinator" 2>/dev/null || break; sleep 0.1; done
kill -0 "$coordinator" 2>/dev/null && fail "the coordinator did not stop on SIGTERM"
step ""
echo "== timings =="
printf '%s\n' "${timings[@]}"
echo "smoke-test.sh: passed"
