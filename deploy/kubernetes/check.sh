#!/usr/bin/env bash
# Checks deploy/kubernetes offline, with no cluster (the ctest test
# deploy.kubernetes runs it):
# - yamllint (.yamllint) passes on every file;
# - `kubectl kustomize` renders each overlay as shipped and with each
#   component switched on as the files say, after the steps README.md
#   documents (certificates from scripts/make-certs.sh, Redis passwords);
# - every rendered object validates against its kind's schema
#   (validate.js: the npm kubernetes-models packages, cert-manager and
#   prometheus-operator kinds too; an unknown kind fails) and relaysync's
#   pod rules (non-root, read-only root, no privilege escalation, no
#   capabilities, resource requests and limits);
# - each variant has the objects it promises, and not the ones it replaces;
#   every Service selects pods and reaches a port they declare;
# - the image is the one deploy/container/build.sh tags
#   (localhost/relaysync:VERSION), run as its USER, with a command it has
#   (deploy/container/Containerfile); each metrics port is the one
#   --metrics-listen names;
# - components/prometheus-operator's PrometheusRule has exactly the rules
#   of deploy/prometheus/alerts.yaml (prometheus-rule.js);
# - Redis' ACL is deploy/redis/relaysync.acl's;
# - the rendered redis.conf and ACL start a real redis-server (on a unix
#   socket, no TCP port), where the coordinators' user logs in and the
#   default user cannot.
#
#   deploy/kubernetes/check.sh [DIR]
#
# DIR: a copy of deploy/kubernetes to check instead (tests/deploy). Needs
# kubectl with kustomize v4 or later, node with `npm ci` run here, yamllint,
# openssl and redis-server (scripts/install-deps.sh installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=$(cd "${1:-$here}" && pwd)

fail() {
  echo "check.sh: $*" >&2
  exit 1
}

for tool in kubectl node yamllint openssl redis-server redis-cli; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/install-deps.sh installs it)"
done
# Components need kustomize v4 or later (kubectl 1.21+). Debian 12's own
# kubectl (kubernetes-client 1.20) has kustomize v2.0.3.
kustomize_version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
if [[ -z $kustomize_version || $kustomize_version -lt 4 ]]; then
  fail "kubectl $(command -v kubectl) has no kustomize v4+ (kubectl version --client); components need it"
fi
[[ -d $here/node_modules/kubernetes-models ]] ||
  fail "no $here/node_modules: run npm ci in deploy/kubernetes (scripts/install-deps.sh does)"

# The image deploy/container/build.sh tags, its USER and its programs
# (COPY ... bin/NAME ... DIR/).
image=$("$repo/deploy/container/build.sh" --print-image)
[[ $image == localhost/relaysync:[0-9]* ]] || fail "build.sh --print-image: $image"
containerfile=$repo/deploy/container/Containerfile
image_user=$(sed -n 's/^USER \([0-9][0-9]*\)\(:[0-9]*\)\{0,1\}$/\1/p' "$containerfile")
copy=$(grep '^COPY .* bin/' "$containerfile" || true)
image_programs=$(grep -o ' bin/[a-z-]*' <<<"$copy" | sed "s| bin/|${copy##* }|" | paste -sd, -)
[[ -n $image_user && -n $image_programs ]] ||
  fail "$containerfile: no numeric USER or no COPY of bin/ programs"
image_args=(--image="$image" --image-user="$image_user" --image-programs="$image_programs")

echo "== yamllint =="
yamllint --strict -c "$src/.yamllint" "$src"

tmp=$(mktemp -d /tmp/relaysync-k8s-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
k=$tmp/kubernetes
mkdir "$k"
tar -C "$src" --exclude=node_modules -cf - . | tar -C "$k" -xf -

echo "== the documented set-up steps =="
# README.md, "Certificates" and "Redis": make-certs.sh, then copy what the
# cluster needs (never ca.key) into components/tls-files/certs/.
"$repo/scripts/make-certs.sh" \
  --coordinator=relaysync-coordinator,relaysync-coordinator.default.svc \
  --agent=mail "$tmp/ca" >/dev/null
cp "$tmp/ca/ca.pem" "$tmp/ca/coordinator.pem" "$tmp/ca/coordinator.key" \
  "$tmp/ca/agent-mail.pem" "$tmp/ca/agent-mail.key" "$k/components/tls-files/certs/"
openssl rand -hex 24 >"$k/overlays/redis/secrets/redis-password"
openssl rand -hex 24 >"$k/components/sentinel/secrets/internal-password"

# variant NAME OVERLAY [COMPONENT...] -- [--expect=Kind/name|--absent=Kind/name ...]
# Renders OVERLAY of a copy with each COMPONENT switched on as its
# kustomization.yaml says (uncomment its line; cert-manager replaces the
# tls-files line), and validates the result into $tmp/NAME.yaml.
variant() {
  local name=$1 overlay=$2
  shift 2
  local dir=$tmp/variants/$name
  mkdir -p "$dir"
  cp -r "$k/." "$dir"
  local kz=$dir/overlays/$overlay/kustomization.yaml
  while [[ $# -gt 0 && $1 != -- ]]; do
    case $1 in
      cert-manager) sed -i 's|^  - \.\./\.\./components/tls-files$|  - ../../components/cert-manager|' "$kz" ;;
      *) sed -i "s|^  # - \.\./\.\./components/$1\$|  - ../../components/$1|" "$kz" ;;
    esac
    grep -q "^  - \.\./\.\./components/$1\$" "$kz" || fail "$overlay: no line to switch on $1 in $kz"
    shift
  done
  [[ $# -gt 0 ]] && shift
  echo "== $name: kubectl kustomize overlays/$overlay =="
  kubectl kustomize "$dir/overlays/$overlay" >"$tmp/$name.yaml" ||
    fail "$name: kubectl kustomize overlays/$overlay failed"
  node "$here/validate.js" "${image_args[@]}" "$@" "$tmp/$name.yaml" ||
    fail "$name: invalid objects (above)"
}

coordinator_side=(--expect=ConfigMap/relaysync --expect=Service/relaysync-coordinator
  --expect=NetworkPolicy/relaysync-coordinator)
variant embedded embedded -- "${coordinator_side[@]}" \
  --expect=StatefulSet/relaysync-coordinator --expect=Secret/relaysync-coordinator-tls \
  --expect=Deployment/mail --expect=Secret/relaysync-agent-mail-tls \
  --absent=Certificate/relaysync-coordinator --absent=Deployment/relaysync-coordinator \
  --absent=ServiceMonitor/relaysync --absent=PrometheusRule/relaysync
variant embedded-cert-manager embedded cert-manager -- "${coordinator_side[@]}" \
  --expect=StatefulSet/relaysync-coordinator --expect=Issuer/relaysync-ca \
  --expect=Certificate/relaysync-coordinator --expect=Deployment/mail \
  --absent=Secret/relaysync-coordinator-tls --absent=Secret/relaysync-agent-mail-tls
variant embedded-daemonset embedded agent-daemonset -- "${coordinator_side[@]}" \
  --expect=DaemonSet/relaysync-agent --expect=Secret/relaysync-coordinator-tls \
  --absent=Deployment/mail --absent=Secret/relaysync-agent-mail-tls
variant redis redis -- "${coordinator_side[@]}" \
  --expect=Deployment/relaysync-coordinator --expect=PodDisruptionBudget/relaysync-coordinator \
  --expect=StatefulSet/relaysync-redis --expect=NetworkPolicy/relaysync-redis \
  --expect=Deployment/mail --absent=StatefulSet/relaysync-coordinator \
  --absent=StatefulSet/relaysync-redis-sentinel
variant redis-sentinel redis sentinel -- "${coordinator_side[@]}" \
  --expect=StatefulSet/relaysync-redis-sentinel --expect=NetworkPolicy/relaysync-redis-sentinel \
  --expect=PodDisruptionBudget/relaysync-redis
monitoring=(--expect=ServiceMonitor/relaysync --expect=PrometheusRule/relaysync
  --expect=Service/relaysync-coordinator-metrics --expect=Service/relaysync-agent-metrics
  --expect=NetworkPolicy/relaysync-coordinator-metrics)
variant embedded-monitoring embedded prometheus-operator -- "${coordinator_side[@]}" \
  "${monitoring[@]}" --expect=StatefulSet/relaysync-coordinator --expect=Deployment/mail
# docs/operations.md, "Install to alert: Kubernetes", with cert-manager.
variant embedded-cert-manager-monitoring embedded cert-manager prometheus-operator -- \
  "${coordinator_side[@]}" "${monitoring[@]}" --expect=Certificate/relaysync-coordinator \
  --absent=Secret/relaysync-coordinator-tls
variant redis-everything redis cert-manager sentinel agent-daemonset prometheus-operator -- \
  "${coordinator_side[@]}" "${monitoring[@]}" \
  --expect=Deployment/relaysync-coordinator --expect=StatefulSet/relaysync-redis-sentinel \
  --expect=Certificate/relaysync-coordinator --expect=DaemonSet/relaysync-agent \
  --absent=Deployment/mail

echo "== the PrometheusRule against deploy/prometheus/alerts.yaml =="
node "$here/prometheus-rule.js" --check "$repo/deploy/prometheus/alerts.yaml" \
  "$tmp/embedded-monitoring.yaml" "$tmp/embedded-cert-manager-monitoring.yaml" \
  "$tmp/redis-everything.yaml" ||
  fail "the PrometheusRule is not deploy/prometheus/alerts.yaml's"
# README.md, "Monitoring": the file is what prometheus-rule.js makes.
node "$here/prometheus-rule.js" "$repo/deploy/prometheus/alerts.yaml" |
  cmp -s - "$src/components/prometheus-operator/prometheusrule.yaml" ||
  fail "components/prometheus-operator/prometheusrule.yaml differs from what prometheus-rule.js makes of alerts.yaml"

# README.md, "Better for a site": a site's own overlay over these files.
echo "== site: an overlay of overlays/redis with components/sentinel =="
mkdir "$tmp/site"
cat >"$tmp/site/kustomization.yaml" <<'END'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: mail
resources:
  - ../kubernetes/overlays/redis
components:
  - ../kubernetes/components/sentinel
END
kubectl kustomize "$tmp/site" >"$tmp/site.yaml" || fail "site: kubectl kustomize failed"
node "$here/validate.js" "${image_args[@]}" --expect=StatefulSet/relaysync-redis-sentinel \
  --expect=Deployment/relaysync-coordinator "$tmp/site.yaml" || fail "site: invalid objects (above)"

echo "== images, ACL and arguments =="
for f in "$tmp"/*.yaml; do
  bad=$(grep -E '^ *image: ([^ ]*/)?relaysync(:[^ ]*)?$' "$f" | grep -v "image: $image\$" || true)
  [[ -z $bad ]] || fail "$(basename "$f"): image not $image: $bad"
done
acl=$(sed 's/>PASSWORD/>@PASSWORD@/' "$repo/deploy/redis/relaysync.acl")
for f in redis redis-sentinel; do
  grep -qxF "    $acl" "$tmp/$f.yaml" || fail "$f: Redis ACL differs from deploy/redis/relaysync.acl"
done
grep -q -- '--redis-master-name=relaysync' "$tmp/redis-sentinel.yaml" ||
  fail "redis-sentinel: the coordinators do not ask Sentinel"
grep -q -- '--redis=relaysync-redis:6379' "$tmp/redis-sentinel.yaml" &&
  fail "redis-sentinel: the coordinators still name one Redis"

echo "== redis-server with the rendered redis.conf and ACL =="
# The init script and redis.conf out of the rendered ConfigMap, with their
# paths moved under $tmp/redis and TCP off (a unix socket instead).
r=$tmp/redis
mkdir -p "$r/conf" "$r/secret" "$r/run" "$r/data"
node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const fs = require("fs");
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))) {
    const o = doc.toJS();
    if (o && o.kind === "ConfigMap" && o.metadata.name === "relaysync-redis") {
      for (const [key, value] of Object.entries(o.data)) {
        fs.writeFileSync(process.argv[3] + "/" + key, value);
      }
    }
  }' "$here" "$tmp/redis.yaml" "$r/conf"
[[ -s $r/conf/redis.conf && -s $r/conf/init.sh ]] || fail "redis: no ConfigMap relaysync-redis"
cp "$k/overlays/redis/secrets/redis-password" "$r/secret/password"
moved() { sed -e "s|/etc/redis/|$r/|g" -e "s|/run/redis/|$r/run/|g" -e "s|^dir /data|dir $r/data|" "$@"; }
moved "$r/conf/init.sh" >"$r/init.sh"
sh "$r/init.sh" || fail "redis: the init script failed"
{
  moved "$r/conf/redis.conf" | grep -v -e '^port ' -e '^bind '
  printf 'port 0\nunixsocket %s\nlogfile %s\nsave ""\n' "$r/redis.sock" "$r/redis.log"
} >"$r/redis.conf"
redis-server "$r/redis.conf" &
redis_pid=$!
stop_redis() {
  kill "$redis_pid" 2>/dev/null || return 0
  wait "$redis_pid" 2>/dev/null || true
}
trap 'stop_redis; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [[ -S $r/redis.sock ]] && break; sleep 0.05; done
[[ -S $r/redis.sock ]] || fail "redis: redis-server did not start: $(cat "$r/redis.log")"
password=$(cat "$r/secret/password")
ask() { redis-cli -s "$r/redis.sock" --no-auth-warning "$@" 2>&1; }
[[ $(ask --user relaysync --pass "$password" role | head -n 1) == master ]] ||
  fail "redis: user relaysync cannot log in and ask ROLE"
[[ $(ask ping) == *NOAUTH* ]] || fail "redis: the default user is not off"
[[ $(ask --user relaysync --pass "$password" flushall) == *NOPERM* ]] ||
  fail "redis: user relaysync may FLUSHALL"
[[ $(ask --user relaysync --pass "$password" config get appendfsync | head -n 1) == *NOPERM* ]] ||
  fail "redis: user relaysync may CONFIG"
stop_redis

echo "check.sh: all Kubernetes checks passed"
