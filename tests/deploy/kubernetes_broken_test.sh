#!/usr/bin/env bash
# deploy/kubernetes/check.sh must fail on a broken manifest, for the right
# reason: each case breaks one thing in a fresh copy of deploy/kubernetes
# and expects check.sh to exit non-zero with a message naming the problem.
# The unbroken copy must pass first, so a failure is the breakage's.
#
#   kubernetes_broken_test.sh DEPLOY_KUBERNETES_DIR
set -euo pipefail

src=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/relaysync-k8s-broken.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

# copy NAME: a fresh copy of deploy/kubernetes in $tmp/NAME.
copy() {
  mkdir -p "$tmp/$1"
  tar -C "$src" --exclude=node_modules -cf - . | tar -C "$tmp/$1" -xf -
}

# broken NAME FILE SED_EXPRESSION EXPECTED_MESSAGE
broken() {
  local name=$1 file=$2 expr=$3 expected=$4
  copy "$name"
  local path=$tmp/$name/$file
  cp "$path" "$tmp/$name.orig"
  sed -i -e "$expr" "$path"
  if cmp -s "$path" "$tmp/$name.orig"; then
    echo "FAIL $name: the edit changed nothing in $file"
    failures=$((failures + 1))
    return
  fi
  if "$src/check.sh" "$tmp/$name" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: check.sh passed"
    failures=$((failures + 1))
  elif ! grep -qF -- "$expected" "$tmp/$name.log"; then
    echo "FAIL $name: check.sh failed without \"$expected\":"
    tail -n 20 "$tmp/$name.log"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(grep -F -m 1 -- "$expected" "$tmp/$name.log")"
  fi
}

copy unbroken
if ! "$src/check.sh" "$tmp/unbroken" >"$tmp/unbroken.log" 2>&1; then
  echo "FAIL unbroken: check.sh fails on an unchanged copy:"
  tail -n 20 "$tmp/unbroken.log"
  exit 1
fi
echo "ok   unbroken: check.sh passes on an unchanged copy"

# A field of the wrong type: the schema (kubernetes-models).
broken wrong-type overlays/embedded/coordinator.yaml \
  's/^  replicas: 1$/  replicas: one/' "must be integer"
# A misspelt kind: no model knows it.
broken unknown-kind base/networkpolicy.yaml \
  's/^kind: NetworkPolicy$/kind: NetworkPolcy/' "unknown kind networking.k8s.io/v1 NetworkPolcy"
# A required field missing: a container without a name.
broken missing-name components/agent-daemonset/daemonset.yaml \
  's/^        - name: relaysync-agent$/        - tty: false/' "containers/0 must have required property name"
# A pod rule: privilege escalation allowed in Redis.
broken escalation overlays/redis/redis.yaml \
  '0,/allowPrivilegeEscalation: false/s//allowPrivilegeEscalation: true/' \
  "needs securityContext.allowPrivilegeEscalation: false"
# A resource the kustomization lists is gone: kustomize fails.
broken missing-resource overlays/redis/kustomization.yaml \
  's|^  - networkpolicy.yaml$|  - network-policy.yaml|' "kubectl kustomize overlays/redis failed"
# The image: another name than deploy/container/build.sh tags.
broken image-name overlays/redis/kustomization.yaml \
  's|newName: localhost/relaysync$|newName: relaysync|' "no container runs localhost/relaysync:"
# A uid other than the image's USER (deploy/container/Containerfile).
broken image-user overlays/embedded/coordinator.yaml \
  's/^        runAsUser: 65532$/        runAsUser: 1000/' "runAsUser 1000, the image's USER is 65532"
# A metrics port that is not where --metrics-listen listens.
broken metrics-port base/mail-deployment.yaml \
  's/containerPort: 9301$/containerPort: 9302/' "port metrics 9302 but --metrics-listen=0.0.0.0:9301"
# A Service port that reaches no container port (components/prometheus-operator).
broken service-port components/prometheus-operator/services.yaml \
  '0,/targetPort: metrics$/s//targetPort: metric/' "port metrics reaches no container port metric"
# The PrometheusRule edited instead of deploy/prometheus/alerts.yaml.
broken rule-drift components/prometheus-operator/prometheusrule.yaml \
  's/^          for: 2m$/          for: 3m/' "differs from"
# yamllint: trailing spaces.
broken lint base/configmap.yaml 's/^kind: ConfigMap$/kind: ConfigMap   /' "trailing-spaces"

if [[ $failures -gt 0 ]]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "check.sh rejects every broken manifest"
