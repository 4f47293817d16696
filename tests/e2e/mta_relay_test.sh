#!/bin/bash
# mta_relay_test.sh -- a real Postfix smtpd or a real Exim daemon relays for
# a client exactly while the cluster says it logged in, through the map
# relaysync's agent writes in that MTA's format and the deployed snippet
# (deploy/postfix/main.cf.relaysync, deploy/exim/relaysync.acl).
#
# A coordinator (embedded store, mutual TLS) joins two agents: agent A
# tails a real Dovecot's log on "host A"; agent B keeps host B's maps with
# one --output per map kind of the MTA, and the MTA, on loopback, reads
# them:
#   postfix  one master; smtpd on PORT with main.cf.relaysync as deployed
#            (check_client_access hash:, --output=postfix-hash), and two
#            more smtpd services with the same restrictions on lmdb: and
#            cdb: (--output=postfix-lmdb, --output=cdb)
#   exim     one daemon per kind, each with relaysync.acl in its rcpt ACL:
#            net-dbm; (--output=exim-dbm, the deployed line), net-dbmnz;
#            (exim-dbmnz) and net-iplsearch; (text)
# Through every listener:
#   1. RCPT TO a remote domain from 127.0.0.2 is refused,
#   2. accepted after an IMAP login from 127.0.0.2 on host A's Dovecot,
#      while 127.0.0.5 is still refused (and, for Exim, 127.0.0.2 still
#      may not send to a%b@remote: the snippet sits after the checks every
#      client must pass, where relaysync.acl says to put it),
#   3. refused again after `vsmtprelay --coordinator=... delete 127.0.0.2`,
#   4. where the machine has an IPv6 loopback: the same for ::1 (the
#      listeners also listen on [::1]), granted by `vsmtprelay add ::1`
#      through the coordinator; this checks each kind's IPv6 key is the
#      one its MTA looks up for a real client,
#   5. with agent B stopped and the deployed snippet's map replaced by junk,
#      127.0.0.2 (granted again) gets a temporary error (4xx), not relay.
# The MTA is never restarted or reloaded. The MTAs come unpacked from
# scripts/install-mta-readers.sh (RELAYSYNC_MTA_READERS or MTA_READERS,
# default /opt/relaysync-mta): missing, they fail the test.
#
# Usage: mta_relay_test.sh BUILD_DIR postfix|exim (as root). Exit 0 pass,
# 1 fail, 77 skipped (not root). Bounded to 150 s. RELAYSYNC_E2E_KEEP=1
# keeps the work folder (logs, configurations) for a look afterwards.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 150 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$REPO/build}
MTA=${2:-}
COORDINATOR=$BUILD/coordinator/relaysync-coordinator
AGENT=$BUILD/agent/relaysync-agent
VSMTPRELAY=$BUILD/cli/vsmtprelay
# shellcheck source-path=SCRIPTDIR source=lib/mail_daemons.sh
. "$HERE/lib/mail_daemons.sh"
# shellcheck source-path=SCRIPTDIR source=lib/mta_daemons.sh
. "$HERE/lib/mta_daemons.sh"

case "$MTA" in
  postfix | exim) ;;
  *) die "usage: $0 BUILD_DIR postfix|exim" ;;
esac
[ "$(id -u)" -eq 0 ] || skip "must run as root (daemons switch users)"
for bin in "$COORDINATOR" "$AGENT" "$VSMTPRELAY"; do
  [ -x "$bin" ] || die "$bin not built"
done
mta_readers_present || die "no Postfix/Exim in $MTA_READERS: run scripts/install-mta-readers.sh"

WORK=$(mktemp -d "/tmp/relaysync-$MTA-e2e.XXXXXX")
chmod 0755 "$WORK"
PIDS=()
cleanup() {
  stop_postfix
  stop_exim
  stop_dovecot
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$failures" -ne 0 ]; then
    for log in "$WORK"/*.log "$WORK"/dovecot/dovecot.log "$WORK"/postfix/postfix.log \
      "$WORK"/exim-*/log/mainlog "$WORK"/exim-*/log/paniclog; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }
    done
  fi
  if [ -n "${RELAYSYNC_E2E_KEEP-}" ]; then
    echo "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or out of time"; exit 1' TERM INT

# --- host B's maps: NAME KIND FILE MTA-ITEM, one line each ------------------
# The MTA's own readers need the folder open (Exim reads as Debian-exim).
MAPS=$WORK/maps
mkdir -p "$MAPS" && chmod 0755 "$MAPS"
if [ "$MTA" = postfix ]; then
  OUTPUTS="hash postfix-hash $MAPS/relayers.db hash:$MAPS/relayers
lmdb postfix-lmdb $MAPS/relayers.lmdb lmdb:$MAPS/relayers
cdb cdb $MAPS/relayers.cdb cdb:$MAPS/relayers"
else
  OUTPUTS="dbm exim-dbm $MAPS/relayers.db net-dbm;$MAPS/relayers.db
dbmnz exim-dbmnz $MAPS/relayers.dbmnz net-dbmnz;$MAPS/relayers.dbmnz
iplsearch text $MAPS/relayers.txt net-iplsearch;$MAPS/relayers.txt"
fi
OUTPUT_FLAGS=()
while read -r name kind file item; do
  OUTPUT_FLAGS+=("--output=$kind:$file")
done <<<"$OUTPUTS"

# --- coordinator and agents -------------------------------------------------
TLS=$WORK/tls
"$REPO/scripts/make-certs.sh" --coordinator=localhost,127.0.0.1 --agent=a \
  --agent=b --admin=e2e "$TLS" >/dev/null || die "make-certs.sh failed"
"$COORDINATOR" --listen=127.0.0.1:0 --port-file="$WORK/port" \
  --tls-cert="$TLS/coordinator.pem" --tls-key="$TLS/coordinator.key" \
  --tls-client-ca="$TLS/ca.pem" --data-dir="$WORK/coordinator" \
  --expire-after=30m >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || die "coordinator did not start"
TARGET=127.0.0.1:$(cat "$WORK/port")
DOVECOT_LOG=$WORK/dovecot/dovecot.log
admin() { # vsmtprelay through the coordinator, as the admin
  "$VSMTPRELAY" --coordinator="$TARGET" --tls-ca="$TLS/ca.pem" \
    --tls-cert="$TLS/admin-e2e.pem" --tls-key="$TLS/admin-e2e.key" "$@"
}

start_agent() { # NAME ARGS...
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
start_agent b "${OUTPUT_FLAGS[@]}"
AGENT_B_PID=$LAST_AGENT_PID
while read -r name kind file item; do
  # (an empty text map is an empty file)
  for _ in $(seq 200); do [ -e "$file" ] && break; sleep 0.05; done
  [ -e "$file" ] || die "agent b did not create its $kind map $file"
done <<<"$OUTPUTS"

# in_map KIND FILE IP: 0 when the map has IP (127.0.0.x or ::1) spelled as
# KIND's reader looks it up, read by vsmtprelay.
in_map() {
  local key=$3
  case "$1:$3" in
    exim-*:::1) key=0000.0000.0000.0000.0000.0000.0000.0001 ;;
  esac
  "$VSMTPRELAY" --db="$2" --kind="$1" dump | grep -qF "$key	"
}
wait_maps() { # IP present|absent: every map of host B
  local ip=$1 want=$2 name kind file item i ok
  for i in $(seq 200); do
    ok=1
    while read -r name kind file item; do
      if in_map "$kind" "$file" "$ip"; then
        [ "$want" = present ] || ok=0
      else
        [ "$want" = absent ] || ok=0
      fi
    done <<<"$OUTPUTS"
    [ "$ok" = 1 ] && return 0
    sleep 0.05
  done
  return 1
}

# --- the mail daemons -------------------------------------------------------
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
  export MTA_IPV6=1
fi
IMAP_PORT=$(pick_free_port) || die "no free port"
POP3_PORT=$(pick_free_port) || die "no free port"
start_dovecot "$IMAP_PORT" "$POP3_PORT" "$WORK/dovecot" || die "dovecot did not start"

# LISTENERS: NAME PORT, one line per MTA listener (one per map kind).
LISTENERS=
if [ "$MTA" = postfix ]; then
  extra=()
  while read -r name kind file item; do
    port=$(pick_free_port) || die "no free port"
    LISTENERS+="$name $port"$'\n'
    [ "$name" = hash ] && main_port=$port && main_item=$item && continue
    extra+=("$name:$port:$item")
  done <<<"$OUTPUTS"
  start_postfix "$main_port" "$WORK/postfix" "$main_item" "${extra[@]}" ||
    die "postfix did not start"
  # shellcheck disable=SC2086 # one line
  echo "postfix master (pid $POSTFIX_PID), smtpd per map:" $LISTENERS
else
  while read -r name kind file item; do
    port=$(pick_free_port) || die "no free port"
    LISTENERS+="$name $port"$'\n'
    start_exim "$port" "$WORK/exim-$name" "$item" || die "exim ($name) did not start"
  done <<<"$OUTPUTS"
  # shellcheck disable=SC2086 # one line
  echo "exim daemons, one per map:" $LISTENERS
fi
LISTENERS=${LISTENERS%$'\n'}

RCPT=user@remote.example
# expect_relay WHAT FROM_IP WANT(250|5xx|4xx) [RCPT]: through every listener
# (or only ONLY_LISTENER's).
expect_relay() {
  local what=$1 from=$2 want=$3 rcpt=${4:-$RCPT} server=127.0.0.1 name port got
  [ "$from" != ::1 ] || server=::1
  while read -r name port; do
    [ -z "${ONLY_LISTENER-}" ] || [ "$name" = "$ONLY_LISTENER" ] || continue
    got=$(MAIL_DAEMONS_HOST=$server smtp_relay_status "$from" "$port" "$rcpt")
    case "$want:$got" in
      250:250 | 5xx:5?? | 4xx:4??) pass "$MTA $name: $what (RCPT from $from -> $got)" ;;
      *) fail "$MTA $name: $what (RCPT from $from -> $got, want $want)" ;;
    esac
  done <<<"$LISTENERS"
}

expect_relay "relay refused before any login" 127.0.0.2 5xx
imap_login 127.0.0.2 "$IMAP_PORT" alice password || fail "IMAP login of alice from 127.0.0.2"
if wait_maps 127.0.0.2 present; then
  pass "an IMAP login on host A reached every map of host B"
else
  fail "127.0.0.2 never reached every map of host B"
fi
expect_relay "relay accepted after an IMAP login on host A" 127.0.0.2 250
expect_relay "another client still refused" 127.0.0.5 5xx
if [ "$MTA" = exim ]; then
  # relaysync.acl goes after the checks every client must pass.
  expect_relay "a restricted local part still refused" 127.0.0.2 5xx 'a%b@remote.example'
fi

admin delete 127.0.0.2 || fail "vsmtprelay delete"
wait_maps 127.0.0.2 absent || fail "127.0.0.2 still in a map of host B after delete"
expect_relay "relay refused again after vsmtprelay delete" 127.0.0.2 5xx

if [ -n "$MTA_IPV6" ]; then
  expect_relay "IPv6 relay refused before the grant" ::1 5xx
  admin add ::1 || fail "vsmtprelay add ::1"
  wait_maps ::1 present || fail "::1 never reached every map of host B"
  expect_relay "IPv6 relay accepted after vsmtprelay add ::1" ::1 250
  admin delete ::1 || fail "vsmtprelay delete ::1"
  wait_maps ::1 absent || fail "::1 still in a map of host B after delete"
  expect_relay "IPv6 relay refused again after vsmtprelay delete" ::1 5xx
else
  echo "NOTE: no IPv6 loopback (::1) here: the IPv6 checks did not run"
fi

# A map the MTA cannot read (agent B stopped, the deployed snippet's map
# overwritten with junk): the client is deferred, never relayed.
kill "$AGENT_B_PID" && wait "$AGENT_B_PID" 2>/dev/null
read -r name kind file item <<<"$OUTPUTS"
admin add 127.0.0.2 || fail "vsmtprelay add 127.0.0.2"
# A new file: smtpd notices its open one is gone even within the second.
rm -f "$file" && echo 'not a map' >"$file"
ONLY_LISTENER=$name expect_relay "a broken map defers, never relays" 127.0.0.2 4xx

for pid in ${POSTFIX_PID:+"$POSTFIX_PID"} "${EXIM_PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || fail "$MTA (pid $pid) exited during the test"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
