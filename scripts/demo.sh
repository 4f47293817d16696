#!/usr/bin/env bash
# Quick start on one machine: installs what the build needs, builds relaysync,
# and starts a coordinator (embedded Berkeley DB store) plus one agent that
# writes ./demo/relayers.db, then shows vsmtprelay working through the
# coordinator. Every connection is mutual TLS with certificates that
# scripts/make-certs.sh makes in ./demo/tls; a vsmtprelay without one is
# refused. Needs root (or sudo) for apt-get.
#   scripts/demo.sh          build, start, show
#   scripts/demo.sh stop     stop the demo processes
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=${RELAYSYNC_DEMO_DIR:-$root/demo}
port=${RELAYSYNC_DEMO_PORT:-7300}

stop() {
  for name in agent coordinator; do
    if [[ -f $demo/$name.pid ]]; then
      kill "$(cat "$demo/$name.pid")" 2>/dev/null || true
      rm -f "$demo/$name.pid"
    fi
  done
}
if [[ ${1:-} == stop ]]; then
  stop
  echo "demo stopped"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  scripts/install-deps.sh
else
  sudo scripts/install-deps.sh
fi

export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"${RELAYSYNC_JOBS:-2}" \
  --target relaysync-coordinator relaysync-agent vsmtprelay

stop
mkdir -p "$demo"
rm -rf "$demo/coordinator-data" "$demo/spool" "$demo/relayers.db"
tls=$demo/tls
scripts/make-certs.sh --coordinator=localhost,127.0.0.1 --agent=demo-mx1 \
  --admin=demo "$tls" >/dev/null
build/coordinator/relaysync-coordinator --listen=127.0.0.1:"$port" \
  --tls-cert="$tls/coordinator.pem" --tls-key="$tls/coordinator.key" \
  --tls-client-ca="$tls/ca.pem" --audit-log="$demo/audit.log" \
  --store=embedded --data-dir="$demo/coordinator-data" --expire-after=30m \
  >"$demo/coordinator.log" 2>&1 &
echo $! >"$demo/coordinator.pid"
build/agent/relaysync-agent --coordinator=localhost:"$port" --host-id=demo-mx1 \
  --tls-ca="$tls/ca.pem" --tls-cert="$tls/agent-demo-mx1.pem" \
  --tls-key="$tls/agent-demo-mx1.key" \
  --db="$demo/relayers.db" --spool-dir="$demo/spool" \
  --notify-socket="$demo/notify.sock" >"$demo/agent.log" 2>&1 &
echo $! >"$demo/agent.pid"
for _ in $(seq 100); do [[ -S $demo/notify.sock ]] && break; sleep 0.1; done
[[ -S $demo/notify.sock ]] || { cat "$demo"/*.log; echo "demo: agent did not start" >&2; exit 1; }

run() { echo "\$ $*"; "$@"; }
vsmtprelay=build/cli/vsmtprelay
echo
echo "== a POP/IMAP login reported by Dovecot's post-login hook =="
run build/agent/relaysync-agent notify --socket="$demo/notify.sock" --protocol=imap 192.0.2.10 alice
echo "== admin commands, cluster-wide through the coordinator, as admin \"demo\" =="
# vsmtprelay also reads VSMTPRELAY_TLS_CA/_CERT/_KEY, or ~/.config/relaysync.
export VSMTPRELAY_COORDINATOR=localhost:$port VSMTPRELAY_TLS_CA=$tls/ca.pem \
  VSMTPRELAY_TLS_CERT=$tls/admin-demo.pem VSMTPRELAY_TLS_KEY=$tls/admin-demo.key
run $vsmtprelay add 2001:db8::25
run $vsmtprelay add 198.51.100.7 $(( $(date +%s) - 600 ))
sleep 0.5
run $vsmtprelay list
echo "== without a certificate, nobody can grant relaying =="
if run env -u VSMTPRELAY_TLS_CERT -u VSMTPRELAY_TLS_KEY -u VSMTPRELAY_TLS_CA \
  $vsmtprelay --insecure add 203.0.113.66; then
  echo "demo: an unauthenticated add was accepted" >&2
  exit 1
fi
echo "(refused, as it must be; the coordinator's audit log $demo/audit.log says so)"
echo "== what sendmail reads on this host (the agent's relayers.db) =="
run /usr/sbin/makemap -u hash "$demo/relayers.db"
echo
echo "Running: coordinator on 127.0.0.1:$port (mutual TLS), agent writing $demo/relayers.db"
echo "Certificates: $tls (scripts/make-certs.sh; docs/security.md)"
echo "Logs: $demo/coordinator.log $demo/agent.log   Stop: scripts/demo.sh stop"
