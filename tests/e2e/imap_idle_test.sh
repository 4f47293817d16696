#!/bin/bash
# imap_idle_test.sh -- long IMAP sessions end to end with a real Dovecot: a
# coordinator with --expire-after=3s, agent A tailing Dovecot's own log with
# --session-refresh=1s, agent B keeping the map.
#   1. an IMAP client from 127.0.0.2 logs in and stays in IDLE for three
#      expiry windows: 127.0.0.2 stays in B's map all along;
#   2. a client from 127.0.0.3 that logs in and out at once expires as
#      before;
#   3. once the IDLE client logs out (Dovecot logs "Disconnected: Logged
#      out"), 127.0.0.2 expires too.
# Usage: imap_idle_test.sh BUILD_DIR (as root). Exit 0 pass, 1 fail, 77
# skipped (missing tools or not root). Bounded to 120 s.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 120 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$REPO/build}
COORDINATOR=$BUILD/coordinator/relaysync-coordinator
AGENT=$BUILD/agent/relaysync-agent
VSMTPRELAY=$BUILD/cli/vsmtprelay
# shellcheck source-path=SCRIPTDIR source=lib/mail_daemons.sh
. "$HERE/lib/mail_daemons.sh"

[ "$(id -u)" -eq 0 ] || skip "must run as root (Dovecot switches users)"
for tool in /usr/sbin/dovecot /usr/lib/dovecot/imap curl python3 setsid \
  setpriv; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
for bin in "$COORDINATOR" "$AGENT" "$VSMTPRELAY"; do
  [ -x "$bin" ] || die "$bin not built"
done

WORK=$(mktemp -d /tmp/relaysync-idle-e2e.XXXXXX)
chmod 0755 "$WORK"
PIDS=()
cleanup() {
  stop_dovecot
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

"$COORDINATOR" --listen=127.0.0.1:0 --port-file="$WORK/port" --insecure \
  --data-dir="$WORK/coordinator" --expire-after=3s >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || die "coordinator did not start"
TARGET=127.0.0.1:$(cat "$WORK/port")
DOVECOT_LOG=$WORK/dovecot/dovecot.log
MAP_B=$WORK/map-b.db
start_agent() { # NAME ARGS...
  local name=$1
  shift
  "$AGENT" --coordinator="$TARGET" --insecure --host-id="$name" \
    --spool-dir="$WORK/spool-$name" "$@" >>"$WORK/agent-$name.log" 2>&1 &
  PIDS+=($!)
}
start_agent a --db="$WORK/map-a.db" --watch-log="$DOVECOT_LOG" \
  --session-refresh=1s
start_agent b --db="$MAP_B"
for _ in $(seq 200); do [ -s "$MAP_B" ] && break; sleep 0.05; done
[ -s "$MAP_B" ] || die "agent b did not create $MAP_B"

IMAP_PORT=$(pick_free_port) || die "no free port"
POP3_PORT=$(pick_free_port) || die "no free port"
start_dovecot "$IMAP_PORT" "$POP3_PORT" "$WORK/dovecot" || die "dovecot did not start"

in_map_b() { "$VSMTPRELAY" --db="$MAP_B" dump | grep -q "^$1	"; }
wait_map_b() { # IP present|absent SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if [ "$2" = present ] && in_map_b "$1"; then return 0; fi
    if [ "$2" = absent ] && ! in_map_b "$1"; then return 0; fi
    sleep 0.1
  done
  return 1
}
# stays_in_map_b IP SECONDS: present at every look.
stays_in_map_b() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    in_map_b "$1" || return 1
    sleep 0.1
  done
}

# An IMAP client from FROM that logs in, selects INBOX, IDLEs for SECONDS,
# then ends IDLE and logs out.
idle_client() { # FROM SECONDS
  python3 - "$1" "$IMAP_PORT" "$2" "$MAIL_DAEMONS_USER" "$MAIL_DAEMONS_PASS" <<'PY'
import socket, sys, time
src, port, hold, user, password = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
f = s.makefile("rb")
def expect(tag):
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed")
        if line.startswith(tag):
            if b" OK" not in line:
                sys.exit("not OK: %r" % line)
            return
f.readline()  # greeting
s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), password.encode())); expect(b"a ")
s.sendall(b"b SELECT INBOX\r\n"); expect(b"b ")
s.sendall(b"c IDLE\r\n"); f.readline()  # "+ idling"
time.sleep(hold)
s.sendall(b"DONE\r\n"); expect(b"c ")
s.sendall(b"d LOGOUT\r\n"); expect(b"d ")
PY
}

idle_client 127.0.0.2 16 >"$WORK/idle-client.log" 2>&1 &
CLIENT_PID=$!
PIDS+=("$CLIENT_PID")
if wait_map_b 127.0.0.2 present 10; then
  pass "the IDLE client's login reached host B"
else
  die "127.0.0.2 never reached $MAP_B"
fi
imap_login 127.0.0.3 "$IMAP_PORT" "$MAIL_DAEMONS_USER" "$MAIL_DAEMONS_PASS" ||
  fail "IMAP login from 127.0.0.3"
wait_map_b 127.0.0.3 present 3 || fail "127.0.0.3 never reached $MAP_B"
if stays_in_map_b 127.0.0.2 9; then
  pass "127.0.0.2 stays while its IDLE session is open (3 x --expire-after)"
else
  fail "127.0.0.2 left $MAP_B while its session was open"
fi
if in_map_b 127.0.0.3; then
  fail "127.0.0.3, logged out at once, did not expire"
else
  pass "a session that ended at once expires as before"
fi
if wait "$CLIENT_PID"; then
  pass "the IDLE client logged out"
else
  fail "the IDLE client failed: $(cat "$WORK/idle-client.log")"
fi
if grep -q 'imap(alice)<[0-9]*><[^>]*>: Info: Disconnected: Logged out' "$DOVECOT_LOG"; then
  pass "Dovecot logged the session's end"
else
  fail "no end line in $DOVECOT_LOG: the test proves nothing"
fi
if wait_map_b 127.0.0.2 absent 10; then
  pass "127.0.0.2 expires once its session ended"
else
  fail "127.0.0.2 still in $MAP_B 10 s after its logout"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
