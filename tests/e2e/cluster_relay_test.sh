#!/bin/bash
# cluster_relay_test.sh -- the whole product end to end with real daemons:
# a real Dovecot (IMAP + POP3 on loopback high ports) on "host A", watched by
# relaysync agent A through its log; a real sendmail on "host B" whose
# Local_check_rcpt (deploy/sendmail/relaysync.m4) consults agent B's
# relayers.db; a coordinator on the embedded store between them. Every
# connection is mutual TLS (scripts/make-certs.sh), and a plaintext
# vsmtprelay is refused.
#   1. relay from 127.0.0.2 is refused before any login,
#   2. accepted after an IMAP login on A (seen in A's log),
#   3. refused again after `vsmtprelay --coordinator=... delete 127.0.0.2`,
#   4. a POP3 login from 127.0.0.3 lets 127.0.0.3 relay,
#   5. with Dovecot's post-login hook (deploy/dovecot) reporting to agent C's
#      notify socket instead of a log watcher, an IMAP login from 127.0.0.4
#      lets 127.0.0.4 relay through B.
# Usage: cluster_relay_test.sh BUILD_DIR (as root). Exit 0 pass, 1 fail.
# Bounded to 180 s.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 180 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$REPO/build}
COORDINATOR=$BUILD/coordinator/relaysync-coordinator
AGENT=$BUILD/agent/relaysync-agent
VSMTPRELAY=$BUILD/cli/vsmtprelay
# shellcheck source-path=SCRIPTDIR source=lib/mail_daemons.sh
. "$HERE/lib/mail_daemons.sh"


[ "$(id -u)" -eq 0 ] || die "must run as root (daemons, unshare, users)"
for bin in "$COORDINATOR" "$AGENT" "$VSMTPRELAY"; do
  [ -x "$bin" ] || die "$bin not built"
done

WORK=$(mktemp -d /tmp/relaysync-cluster-e2e.XXXXXX)
chmod 0755 "$WORK"
PIDS=()
cleanup() {
  stop_dovecot
  stop_sendmail
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$failures" -ne 0 ]; then
    for log in "$WORK"/*.log "$WORK"/dovecot/dovecot.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or out of time"; exit 1' TERM INT

# --- coordinator and agents -------------------------------------------------
TLS=$WORK/tls
"$REPO/scripts/make-certs.sh" --coordinator=localhost,127.0.0.1 --agent=a \
  --agent=b --agent=c --admin=e2e "$TLS" >/dev/null || die "make-certs.sh failed"
"$COORDINATOR" --listen=127.0.0.1:0 --port-file="$WORK/port" \
  --tls-cert="$TLS/coordinator.pem" --tls-key="$TLS/coordinator.key" \
  --tls-client-ca="$TLS/ca.pem" --audit-log="$WORK/audit.log" \
  --data-dir="$WORK/coordinator" --expire-after=30m >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || die "coordinator did not start"
TARGET=127.0.0.1:$(cat "$WORK/port")

mkdir -p "$WORK/map-b" && chmod 0755 "$WORK/map-b"
MAP_B=$WORK/map-b/relayers.db
DOVECOT_LOG=$WORK/dovecot/dovecot.log

start_agent() {  # NAME ARGS...
  local name=$1
  shift
  "$AGENT" --coordinator="$TARGET" --host-id="$name" \
    --tls-ca="$TLS/ca.pem" --tls-cert="$TLS/agent-$name.pem" \
    --tls-key="$TLS/agent-$name.key" \
    --spool-dir="$WORK/spool-$name" "$@" >>"$WORK/agent-$name.log" 2>&1 &
  PIDS+=($!)
  LAST_AGENT_PID=$!
}
start_agent a --db="$WORK/map-a.db" --watch-log="$DOVECOT_LOG"
AGENT_A_PID=$LAST_AGENT_PID
start_agent b --db="$MAP_B"
for _ in $(seq 200); do [ -s "$MAP_B" ] && break; sleep 0.05; done
[ -s "$MAP_B" ] || die "agent b did not create $MAP_B"

# --- the mail daemons -------------------------------------------------------
SMTP_PORT=$(pick_free_port) || die "no free port"
start_sendmail "$MAP_B" "$SMTP_PORT" "$WORK/sendmail" || die "sendmail did not start"
IMAP_PORT=$(pick_free_port) || die "no free port"
POP3_PORT=$(pick_free_port) || die "no free port"
start_dovecot "$IMAP_PORT" "$POP3_PORT" "$WORK/dovecot" || die "dovecot did not start"

RCPT=user@remote.example
expect_relay() {  # WHAT FROM_IP WANT(250|5xx)
  local what=$1 from=$2 want=$3 got
  got=$(smtp_relay_status "$from" "$SMTP_PORT" "$RCPT")
  case "$want:$got" in
    250:250 | 5xx:5??) pass "$what (RCPT from $from -> $got)" ;;
    *) fail "$what (RCPT from $from -> $got, want $want)" ;;
  esac
}
# in_map_b IP: 0 when agent b's map has IP.
in_map_b() { "$VSMTPRELAY" --db="$MAP_B" dump | grep -q "^$1	"; }
wait_map_b() {  # IP present|absent
  local i
  for i in $(seq 200); do
    if [ "$2" = present ] && in_map_b "$1"; then return 0; fi
    if [ "$2" = absent ] && ! in_map_b "$1"; then return 0; fi
    sleep 0.05
  done
  return 1
}

expect_relay "relay refused before any login" 127.0.0.2 5xx
imap_login 127.0.0.2 "$IMAP_PORT" alice password || fail "IMAP login of alice from 127.0.0.2"
if wait_map_b 127.0.0.2 present; then
  pass "IMAP login on host A reached host B's relayers.db"
else
  fail "127.0.0.2 never reached $MAP_B"
fi
expect_relay "relay accepted after an IMAP login on host A" 127.0.0.2 250
expect_relay "another client still refused" 127.0.0.5 5xx

# Without a certificate nobody can grant relaying.
if "$VSMTPRELAY" --coordinator="$TARGET" --insecure add 127.0.0.7 2>"$WORK/insecure.err"; then
  fail "a plaintext vsmtprelay add was accepted"
else
  pass "a plaintext vsmtprelay add is refused: $(tail -n 1 "$WORK/insecure.err" | cut -c1-160)"
fi
sleep 0.3
expect_relay "the refused add grants nothing" 127.0.0.7 5xx
"$VSMTPRELAY" --coordinator="$TARGET" --tls-ca="$TLS/ca.pem" \
  --tls-cert="$TLS/admin-e2e.pem" --tls-key="$TLS/admin-e2e.key" \
  delete 127.0.0.2 || fail "vsmtprelay delete"
grep -q '"identity":"spiffe://relaysync/admin/e2e".*"action":"delete","addresses":\["127.0.0.2"\],"result":"ok"' \
  "$WORK/audit.log" && pass "the delete is in the audit log" || fail "no audit line for the delete"
wait_map_b 127.0.0.2 absent || fail "127.0.0.2 still in $MAP_B after delete"
expect_relay "relay refused again after vsmtprelay delete" 127.0.0.2 5xx

# A failed login must not grant anything.
imap_login 127.0.0.6 "$IMAP_PORT" alice wrong-password && fail "bad password accepted"
pop3_login 127.0.0.3 "$POP3_PORT" alice password || fail "POP3 login from 127.0.0.3"
wait_map_b 127.0.0.3 present || fail "POP3 login never reached $MAP_B"
expect_relay "relay accepted after a POP3 login on host A" 127.0.0.3 250
sleep 0.5
expect_relay "failed IMAP login grants nothing" 127.0.0.6 5xx

# Log injection (the CVE-2001-1075 class) through the real Dovecot: login
# attempts whose user names carry rip=/lip= look-alikes, quoting tricks and
# a whole forged line. Dovecot logs them; agent A tails that log and must
# grant none of the addresses in them, nor the failed client.
for evil in \
  'a>, method=PLAIN, rip=203.0.113.66, lip=127.0.0.1, mpid=1, session=<x' \
  'u rip=203.0.113.67 lip=127.0.0.1' \
  'user=<v>, method=PLAIN, rip=203.0.113.68, lip=127.0.0.1' \
  'imap-login: Info: Login: user=<w>, method=PLAIN, rip=203.0.113.69, lip=127.0.0.1' \
  'alice, rip=203.0.113.70' \
  "$(printf 'x%.0s' $(seq 300)), rip=203.0.113.71"; do
  imap_login 127.0.0.8 "$IMAP_PORT" "$evil" password 2>/dev/null &&
    fail "login of an injected user name succeeded: $evil"
done
# A genuine login afterwards shows the tailer read past every one of them.
imap_login 127.0.0.9 "$IMAP_PORT" alice password || fail "IMAP login from 127.0.0.9"
if wait_map_b 127.0.0.9 present; then
  pass "a genuine login after the injection attempts still crosses"
else
  fail "127.0.0.9 never reached $MAP_B after the injection attempts"
fi
injected=$("$VSMTPRELAY" --db="$MAP_B" dump | grep -E '^(203\.0\.113\.|127\.0\.0\.8	)' || true)
if [ -z "$injected" ]; then
  pass "no address from an injected user name was granted"
else
  fail "injected addresses were granted: $injected"
fi
grep -q 'rip=203.0.113.66' "$DOVECOT_LOG" &&
  pass "Dovecot did log the injected text (the test reached the tailer)" ||
  fail "Dovecot's log never held the injected text: the test proves nothing"

# --- the Dovecot post-login hook, with a notify-only agent -----------------
kill "$AGENT_A_PID" && wait "$AGENT_A_PID" 2>/dev/null
stop_dovecot
mkdir -p "$WORK/run" && chmod 0755 "$WORK/run"
SOCKET=$WORK/run/notify.sock
# The hook runs as $MAIL_DAEMONS_SYSUSER: the only sender agent c believes
# besides root and itself.
start_agent c --db="$WORK/map-c.db" --notify-socket="$SOCKET" --notify-socket-mode=0666 \
  --notify-allow-uid="$MAIL_DAEMONS_SYSUSER"
for _ in $(seq 200); do [ -S "$SOCKET" ] && break; sleep 0.05; done
[ -S "$SOCKET" ] || die "agent c did not open $SOCKET"
export RELAYSYNC_AGENT=$AGENT RELAYSYNC_NOTIFY_SOCKET=$SOCKET
start_dovecot "$IMAP_PORT" "$POP3_PORT" "$WORK/dovecot2" \
  "$REPO/deploy/dovecot/relaysync-postlogin.sh" || die "dovecot with the hook did not start"
expect_relay "127.0.0.4 refused before its login" 127.0.0.4 5xx
imap_login 127.0.0.4 "$IMAP_PORT" alice password || fail "IMAP login from 127.0.0.4"
if wait_map_b 127.0.0.4 present; then
  pass "post-login hook -> agent c -> coordinator -> agent b"
else
  fail "127.0.0.4 never reached $MAP_B through the post-login hook"
fi
expect_relay "relay accepted after a hooked IMAP login" 127.0.0.4 250

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
