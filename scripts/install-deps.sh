#!/usr/bin/env bash
# Installs every Debian 12 package relaysync needs to build, test and benchmark.
# Idempotent; run as root. Package daemons (sendmail, dovecot, redis, rsyslog) are NOT
# started by the install: tests start their own private instances on loopback.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache git
  # certificates for mutual TLS (scripts/make-certs.sh)
  openssl
  # libraries
  libdb5.3-dev libcdb-dev liblmdb-dev libhiredis-dev libgrpc++-dev protobuf-compiler-grpc
  libprotobuf-dev protobuf-compiler libabsl-dev grpc-proto
  # rpc/tls_probe.cc (relaysync-agent check-config): OpenSSL's own API
  libssl-dev
  # the journal source (agent/journal_source.cc): sd_journal
  libsystemd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  db5.3-util sendmail-bin sendmail-cf m4
  redis-server redis-sentinel redis-tools dovecot-imapd dovecot-pop3d
  swaks libio-socket-inet6-perl curl iproute2 util-linux procps psmisc strace
  # real journal files for the journal source's tests (testing/journal_files.h)
  systemd-journal-remote
  # tests/e2e/forged_syslog_test.sh: a private rsyslogd, logger, raw datagrams
  rsyslog bsdutils python3
  # fuzzing (scripts/fuzz.sh): clang 14 with libFuzzer and its sanitizer
  # runtimes
  clang libfuzzer-14-dev libclang-rt-14-dev
  # the format check of scripts/test.sh
  clang-format
  # deploy/kubernetes/check.sh: yamllint and redis-server (above); kubectl,
  # node and npm below
  yamllint
  # tests/deploy/shellcheck_test.sh (the scripts of deploy/, scripts/).
  # buildah and debootstrap are not here: CI does not build the image,
  # deploy/container/smoke-test.sh installs them
  shellcheck
  # Prometheus metrics (metrics/): prometheus-cpp's /metrics endpoint, and
  # promtool for the metrics and alert tests (the prometheus daemon is not
  # used and is kept stopped, see below)
  prometheus-cpp-dev prometheus
  # the Debian packages (deploy/debian, tests/deploy/debian_packages_test.sh):
  # dpkg-shlibdeps, lintian, man for the man page check, systemd-analyze and
  # systemd-sysusers (systemd), deb-systemd-helper (init-system-helpers)
  dpkg-dev lintian man-db groff-base systemd init-system-helpers
)
# kubectl for `kubectl kustomize` (check.sh needs kustomize v4+, kubectl
# 1.21+), node and npm for the schema check: only where none is installed,
# as these machines come with newer ones than Debian's (kubernetes-client is
# kubectl 1.20 with kustomize v2.0.3, too old for components, and would
# conflict with an installed kubectl).
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

# Keep package post-install scripts from starting system daemons on
# public interfaces; we restore any existing policy afterwards.
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e $policy ]]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
trap 'if [[ -n $saved ]]; then mv "$saved" "$policy"; else rm -f "$policy"; fi' EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"

# The npm packages of deploy/kubernetes/check.sh (kubernetes-models, ...),
# pinned by its package-lock.json, into deploy/kubernetes/node_modules.
(cd "$(dirname "$0")/../deploy/kubernetes" && npm ci --no-audit --no-fund)
# The prometheus package is installed for promtool only. policy-rc.d kept
# its daemon from starting; keep it from starting at boot too (disable works
# without a running systemd), and stop it if systemd started it anyway.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable prometheus.service >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then
    systemctl stop prometheus.service >/dev/null 2>&1 || true
  fi
fi

# Postfix's postmap and Exim for the map reader tests, unpacked into a
# private tree: as packages they would replace sendmail.
"$(dirname "$0")/install-mta-readers.sh"
