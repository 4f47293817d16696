#!/bin/bash
# dovecot_postlogin_test.sh -- end to end: a real Dovecot with
# deploy/dovecot/relaysync-postlogin.sh as its imap and pop3 post-login script
# calls `relaysync-agent notify` with the client's address, user and protocol,
# and logins succeed (and stay fast) whether the agent works, is missing,
# fails or hangs. The agent is a recording stand-in: this checks the hook's
# contract, not the agent.
#
# Usage: dovecot_postlogin_test.sh   (as root). Exit 0 pass, 1 fail,
# 77 skipped (missing tools or not root). Bounded to 120 s.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
. "$HERE/lib/checks.sh"
e2e_bound 120 "$0" "$@"
REPO=$(cd "$HERE/../.." && pwd)
POSTLOGIN=${RELAYSYNC_POSTLOGIN:-$REPO/deploy/dovecot/relaysync-postlogin.sh}
# shellcheck source-path=SCRIPTDIR source=lib/mail_daemons.sh
. "$HERE/lib/mail_daemons.sh"


[ "$(id -u)" -eq 0 ] || skip "must run as root (Dovecot switches users)"
for tool in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/pop3 \
  /usr/lib/dovecot/script-login curl setsid setpriv; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

WORK=$(mktemp -d /tmp/relaysync-dovecot-e2e.XXXXXX)
chmod 0755 "$WORK" # Dovecot's auth and the post-login script read files here
cleanup() {
  stop_dovecot
  [ -z "${hung_pid-}" ] || kill -KILL "$hung_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or out of time"; exit 1' TERM INT

# The stand-in agent runs as Dovecot's internal user: everything it writes is
# pre-created world-writable in a folder it can read. Its behaviour is switched
# through $AGENT_DIR/mode without restarting Dovecot: record (exit 0), fail
# (exit 1), hang (sleep 60); removing the binary tests "missing".
AGENT_DIR=$WORK/agent
AGENT=$AGENT_DIR/relaysync-agent
CALLS=$AGENT_DIR/calls
SOCKET=$WORK/notify.sock
mkdir -p "$AGENT_DIR"
for f in calls mode pid user; do
  : >"$AGENT_DIR/$f"
  chmod 0666 "$AGENT_DIR/$f"
done
cat >"$AGENT_DIR/agent.in" <<EOF
#!/bin/sh
# Stand-in for relaysync-agent: records its arguments, then obeys ./mode.
id -un >"$AGENT_DIR/user"
echo "\$*" >>"$CALLS"
case "\$(cat "$AGENT_DIR/mode")" in
  fail) echo "notify: cannot reach agent" >&2; exit 1 ;;
  hang) echo \$\$ >"$AGENT_DIR/pid"; exec sleep 60 ;;
esac
exit 0
EOF
install_agent() { install -m 0755 "$AGENT_DIR/agent.in" "$AGENT"; }
install_agent
set_mode() { echo "$1" >"$AGENT_DIR/mode"; }

export RELAYSYNC_AGENT=$AGENT RELAYSYNC_NOTIFY_SOCKET=$SOCKET RELAYSYNC_NOTIFY_TIMEOUT=2

if ! IMAP_PORT=$(pick_free_port) || ! POP3_PORT=$(pick_free_port); then
  echo "FAIL: no free port"
  exit 1
fi
while [ "$POP3_PORT" = "$IMAP_PORT" ]; do POP3_PORT=$(pick_free_port); done
started=$SECONDS
if ! start_dovecot "$IMAP_PORT" "$POP3_PORT" "$WORK/dovecot" "$POSTLOGIN"; then
  echo "FAIL: dovecot did not start (imap $IMAP_PORT, pop3 $POP3_PORT)"
  exit 1
fi
echo "dovecot (pid $DOVECOT_PID) listens on 127.0.0.1:$IMAP_PORT (imap), :$POP3_PORT (pop3) after $((SECONDS - started)) s"
LOG=$WORK/dovecot/dovecot.log

# wait_for_call LINE: true once the agent was called with exactly LINE (5 s).
wait_for_call() {
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qxF -- "$1" "$CALLS" && return 0
    sleep 0.1
  done
  return 1
}

# login PROTO: logs in as alice from 127.0.0.2; sets login_ms to the time it
# took; exit status of the login.
login() {
  local t0 t1 rc
  t0=$(date +%s%N)
  "${1}_login" 127.0.0.2 "$(port_of "$1")" alice password
  rc=$?
  t1=$(date +%s%N)
  login_ms=$(((t1 - t0) / 1000000))
  return $rc
}
port_of() { if [ "$1" = imap ]; then echo "$IMAP_PORT"; else echo "$POP3_PORT"; fi; }

# check_login PROTO WHAT: a login that must succeed within 3 s.
check_login() {
  local proto=$1 what=$2
  if login "$proto"; then
    if [ "$login_ms" -lt 3000 ]; then
      pass "$proto login succeeds $what (${login_ms} ms)"
    else
      fail "$proto login succeeds $what but took ${login_ms} ms"
    fi
  else
    fail "$proto login fails $what"
  fi
}

for proto in imap pop3; do
  set_mode record
  : >"$CALLS"
  check_login "$proto" "with a working agent"
  want="notify --socket=$SOCKET --protocol=$proto 127.0.0.2 alice"
  if wait_for_call "$want"; then
    pass "$proto login ran: relaysync-agent $want"
  else
    fail "$proto login: no call '$want'; calls: $(tr '\n' ';' <"$CALLS")"
  fi
  ran_as=$(cat "$AGENT_DIR/user")
  if [ "$ran_as" = "$MAIL_DAEMONS_SYSUSER" ]; then
    pass "$proto hook ran as the post-login service's user ($ran_as)"
  else
    fail "$proto hook ran as '$ran_as', not as the service's user $MAIL_DAEMONS_SYSUSER"
  fi
  line="$proto-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.2"
  if grep -qF -- "$line" "$LOG"; then
    pass "dovecot.log has '$line'"
  else
    fail "dovecot.log lacks '$line'"
  fi
done

set_mode fail
: >"$CALLS"
check_login imap "when the agent exits 1"
wait_for_call "notify --socket=$SOCKET --protocol=imap 127.0.0.2 alice" ||
  fail "the failing agent was not called"

rm -f "$AGENT"
check_login imap "when the agent binary is missing"
check_login pop3 "when the agent binary is missing"
install_agent

set_mode hang
: >"$AGENT_DIR/pid"
: >"$CALLS"
check_login imap "when the agent hangs"
hung_pid=
for ((i = 0; i < 50; i++)); do
  hung_pid=$(cat "$AGENT_DIR/pid")
  [ -n "$hung_pid" ] && break
  sleep 0.1
done
if [ -z "$hung_pid" ]; then
  fail "the hanging agent was not called"
else
  fds=0
  for fd in /proc/"$hung_pid"/fd/*; do
    [[ $(readlink "$fd") == socket:* ]] && fds=$((fds + 1))
  done
  if [ "$fds" -eq 0 ]; then
    pass "the hanging agent holds no socket (client or Dovecot) open"
  else
    fail "the hanging agent holds $fds socket(s): $(ls -l "/proc/$hung_pid/fd")"
  fi
  set_mode record
  check_login pop3 "while an earlier notification hangs"
  # RELAYSYNC_NOTIFY_TIMEOUT=2: gone after 2 s (+1 s before KILL).
  for ((i = 0; i < 60; i++)); do
    kill -0 "$hung_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$hung_pid" 2>/dev/null; then
    fail "the hanging agent $hung_pid still runs 6 s later"
  else
    pass "the hanging agent was stopped by the timeout"
    hung_pid=
  fi
fi

if grep -q 'Error\|Fatal\|Panic' "$LOG"; then
  fail "dovecot.log has errors: $(grep 'Error\|Fatal\|Panic' "$LOG")"
else
  pass "dovecot.log has no errors"
fi

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "PASS: dovecot_postlogin_test ($SECONDS s)"
