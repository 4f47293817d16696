#!/bin/bash
# sendmail_relay_test.sh -- end to end: a real sendmail configured with
# deploy/sendmail/relaysync.m4 lets 127.0.0.2 relay exactly while
# `vsmtprelay add` has put it in relayers.db, seen by each new SMTP session
# without restarting sendmail.
#
# Usage: sendmail_relay_test.sh   (as root; VSMTPRELAY=path overrides the
# default build/cli/vsmtprelay). Exit 0 pass, 1 fail, 77 skipped (missing
# tools or not root). Bounded to 120 s.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 120 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
VSMTPRELAY=${VSMTPRELAY:-$REPO/build/cli/vsmtprelay}
# shellcheck source-path=SCRIPTDIR source=lib/mail_daemons.sh
. "$HERE/lib/mail_daemons.sh"


[ "$(id -u)" -eq 0 ] || skip "must run as root (sendmail binds and uses unshare)"
for tool in /usr/sbin/sendmail m4 swaks unshare setsid; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
[ -r /usr/share/sendmail/cf/m4/cf.m4 ] || skip "sendmail-cf is not installed"
if [ ! -x "$VSMTPRELAY" ]; then
  echo "FAIL: vsmtprelay not found at $VSMTPRELAY (build it, or set VSMTPRELAY)"
  exit 1
fi

WORK=$(mktemp -d /tmp/relaysync-sendmail-e2e.XXXXXX)
cleanup() {
  stop_sendmail
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or out of time"; exit 1' TERM INT

MAP=$WORK/map/relayers.db
RCPT=user@remote.example
mkdir -p "$WORK/map" && chmod 0755 "$WORK/map"
vsmtprelay() { "$VSMTPRELAY" --db="$MAP" "$@"; }

# expect_relay WHAT FROM_IP WANT: WANT is 250 or 5xx.
expect_relay() {
  local what=$1 from=$2 want=$3 got
  got=$(smtp_relay_status "$from" "$PORT" "$RCPT")
  case "$want:$got" in
    250:250 | 5xx:5??) pass "$what (RCPT TO:<$RCPT> from $from -> $got)" ;;
    *) fail "$what (RCPT TO:<$RCPT> from $from -> $got, want $want)" ;;
  esac
}

# Another client in the map from the start: it must not let 127.0.0.2 relay.
vsmtprelay add 127.0.0.9 || {
  echo "FAIL: vsmtprelay add 127.0.0.9 could not create $MAP"
  exit 1
}

PORT=$(pick_free_port) || {
  echo "FAIL: no free port"
  exit 1
}
started=$SECONDS
if ! start_sendmail "$MAP" "$PORT" "$WORK/sendmail"; then
  echo "FAIL: sendmail did not start on 127.0.0.1:$PORT"
  exit 1
fi
echo "sendmail (pid $SENDMAIL_PID) listens on 127.0.0.1:$PORT after $((SECONDS - started)) s"
daemon_pid=$SENDMAIL_PID

expect_relay "relaying refused while 127.0.0.2 is not in the map" 127.0.0.2 5xx

if vsmtprelay add 127.0.0.2; then
  expect_relay "relaying accepted after vsmtprelay add 127.0.0.2" 127.0.0.2 250
  expect_relay "relaying still refused for 127.0.0.3, not in the map" 127.0.0.3 5xx
else
  fail "vsmtprelay add 127.0.0.2 failed"
fi

if vsmtprelay delete 127.0.0.2; then
  expect_relay "relaying refused again after vsmtprelay delete 127.0.0.2" 127.0.0.2 5xx
else
  fail "vsmtprelay delete 127.0.0.2 failed"
fi

# IPv6 clients cannot connect to this loopback-IPv4 daemon; check the rule with
# sendmail -bt on the same sendmail.cf instead (key in sendmail's spelling).
if vsmtprelay --key-style=sendmail add fd00:db8::5; then
  out=$(sendmail_test_address Local_check_rcpt "$RCPT" IPv6:fd00:db8:0:0:0:0:0:5)
  if grep -q 'Local_check_rcpt returns: \$# OK' <<<"$out"; then
    pass "IPv6 client IPv6:fd00:db8:0:0:0:0:0:5 found under key ipv6:fd00:db8:0:0:0:0:0:5 (sendmail -bt)"
  else
    fail "IPv6 client not allowed by Local_check_rcpt (sendmail -bt said: $out)"
  fi
  out=$(sendmail_test_address Local_check_rcpt "$RCPT" IPv6:fd00:db8:0:0:0:0:0:6)
  if grep -q 'Local_check_rcpt returns: user @ remote \. example' <<<"$out"; then
    pass "IPv6 client not in the map falls through to the usual rules (sendmail -bt)"
  else
    fail "unlisted IPv6 client: unexpected Local_check_rcpt result (sendmail -bt said: $out)"
  fi
else
  fail "vsmtprelay --key-style=sendmail add fd00:db8::5 failed"
fi

if [ "$SENDMAIL_PID" = "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
  pass "one sendmail daemon (pid $daemon_pid) served every session, never restarted"
else
  fail "the sendmail daemon $daemon_pid is gone"
fi

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "PASS: sendmail_relay_test ($SECONDS s)"
