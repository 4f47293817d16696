#!/bin/bash
# forged_syslog_test.sh -- an unprivileged local user cannot grant relaying
# by writing Dovecot-looking lines to syslog. A real rsyslogd (own config,
# own imuxsock socket, own output files in a temp folder) writes what
# `logger`, run as nobody, sends with the tag "dovecot" into a traditional
# and an RFC 3339 syslog file. Two agents tail both files:
#   a  --watch-log (the default trust): the forged logins grant nothing,
#      and the agent says it ignored them;
#   b  --watch-syslog (the risky opt-in): the same lines do grant, which
#      shows that the test would see a grant.
# Raw datagrams (python3) that pick their own syslog header grant nothing
# either: rsyslogd writes the real host name before the tag.
# Usage: forged_syslog_test.sh BUILD_DIR (as root). Exit 0 pass, 1 fail.
# Bounded to 120 s.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 120 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$REPO/build}
AGENT=$BUILD/agent/relaysync-agent
VSMTPRELAY=$BUILD/cli/vsmtprelay

[ "$(id -u)" -eq 0 ] || die "must run as root (logger runs as nobody through setpriv)"
for bin in "$AGENT" "$VSMTPRELAY"; do
  [ -x "$bin" ] || die "$bin not built"
done
for tool in rsyslogd logger setpriv; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is not installed (scripts/install-deps.sh installs it)"
done

WORK=$(mktemp -d /tmp/relaysync-syslog-e2e.XXXXXX)
chmod 0755 "$WORK" # nobody must reach the syslog socket in it
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$failures" -ne 0 ]; then
    for log in "$WORK"/*.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done
  fi
  [ -n "${KEEP_WORK-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or out of time"; exit 1' TERM INT

# waits up to 10 s for COMMAND... to succeed
wait_until() {
  local _
  for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
  return 1
}

# --- a private rsyslogd -----------------------------------------------------
SOCKET=$WORK/syslog.sock
TRADITIONAL=$WORK/mail.log  # "Dec  2 00:52:56 mx dovecot: ..."
PRECISE=$WORK/mail-precise.log # "2026-12-02T00:52:56.494704+00:00 mx dovecot: ..."
cat >"$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$SOCKET")
*.* action(type="omfile" file="$TRADITIONAL" template="RSYSLOG_TraditionalFileFormat")
*.* action(type="omfile" file="$PRECISE" template="RSYSLOG_FileFormat")
CONF
rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslogd.pid" \
  >"$WORK/rsyslogd.log" 2>&1 &
PIDS+=($!)
wait_until test -S "$SOCKET" || die "rsyslogd did not create $SOCKET"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_nobody logger -u "$SOCKET" -t relaysync-test "syslog test starting" ||
  die "logger as nobody could not write to $SOCKET"
wait_until grep -q "syslog test starting" "$TRADITIONAL" ||
  die "rsyslogd did not write $TRADITIONAL"
wait_until grep -q "syslog test starting" "$PRECISE" ||
  die "rsyslogd did not write $PRECISE"

# --- two agents, no coordinator needed: a login reaches the local map at once
start_agent() { # NAME ARGS...
  local name=$1
  shift
  # --insecure: this test has no coordinator; --undefok keeps the command
  # valid for agents built before that flag existed.
  "$AGENT" --undefok=insecure --insecure --coordinator=127.0.0.1:1 \
    --host-id="$name" --db="$WORK/map-$name.db" --spool-dir="$WORK/spool-$name" \
    "$@" >>"$WORK/agent-$name.log" 2>&1 &
  PIDS+=($!)
}
start_agent a --watch-log="$TRADITIONAL,$PRECISE"
start_agent b --watch-syslog="$TRADITIONAL,$PRECISE"
# "watching" is logged once the tail is positioned.
watching_both() { [ "$(grep -c 'watching log:' "$WORK/agent-$1.log")" -eq 2 ]; }
for name in a b; do
  wait_until watching_both "$name" ||
    die "agent $name did not start watching both files"
done

in_map() { "$VSMTPRELAY" --db="$WORK/map-$1.db" dump | grep -q "^$2	"; }

# --- the forgeries ------------------------------------------------------------
as_nobody logger -u "$SOCKET" -p mail.info -t dovecot \
  "imap-login: Login: user=<mallory>, method=PLAIN, rip=192.0.2.66, lip=127.0.0.1, mpid=1, session=<x>" ||
  fail "logger as nobody"
as_nobody logger -u "$SOCKET" -p mail.info -t 'dovecot[4242]' \
  "pop3-login: Info: Login: user=<mallory>, method=PLAIN, rip=192.0.2.67, lip=127.0.0.1" ||
  fail "logger as nobody"
# A tag that imitates Dovecot's own log_path form.
as_nobody logger -u "$SOCKET" -p mail.info \
  -t "imap-login: Info: Login: user=<mallory>, method=PLAIN, rip=192.0.2.68, lip=127.0.0.1," \
  "x" || fail "logger as nobody"
# Raw datagrams that pick their own header: rsyslogd still writes its own
# host name before the tag, so neither the Dovecot own-log form nor another
# host's "dovecot:" line can be made.
send_raw() { # MESSAGE
  as_nobody /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode(), sys.argv[2])' "$1" "$SOCKET"
}
send_raw "<22>Dec  2 00:52:56 imap-login: Info: Login: user=<mallory>, method=PLAIN, rip=192.0.2.70, lip=127.0.0.1" ||
  fail "raw datagram as nobody"
send_raw "<22>Dec  2 00:52:56 otherhost dovecot: imap-login: Login: user=<mallory>, method=PLAIN, rip=192.0.2.72, lip=127.0.0.1" ||
  fail "raw datagram as nobody"
for file in "$TRADITIONAL" "$PRECISE"; do
  # The last datagram sent; the earlier ones are in the file before it.
  if wait_until grep -q "dovecot\[4242\]: pop3-login: Info: Login: user=<mallory>" "$file" &&
    wait_until grep -q "rip=192.0.2.72" "$file"; then
    pass "rsyslogd wrote nobody's forged dovecot lines to $(basename "$file")"
  else
    fail "the forged lines never reached $file"
  fi
done

if wait_until in_map b 192.0.2.66 && wait_until in_map b 192.0.2.67; then
  pass "--watch-syslog: the forged lines grant relaying (the test sees a grant)"
else
  fail "--watch-syslog: the forged logins never reached map b"
fi
if wait_until grep -q "ignored a syslog-form login" "$WORK/agent-a.log"; then
  pass "--watch-log: agent a says it ignored the syslog-form logins"
else
  fail "--watch-log: agent a never reported the ignored syslog lines"
fi
sleep 0.5 # agent a had every chance to write them
for ip in 192.0.2.66 192.0.2.67 192.0.2.68 192.0.2.70 192.0.2.72; do
  if in_map a "$ip"; then
    fail "--watch-log: nobody's forged syslog line made $ip relay"
  else
    pass "--watch-log: $ip was not granted"
  fi
done
for ip in 192.0.2.68 192.0.2.70 192.0.2.72; do
  if in_map b "$ip"; then
    fail "a line imitating Dovecot's own log form or another host granted $ip"
  else
    pass "$ip (own-log form or another host imitated) was not granted even by --watch-syslog"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
