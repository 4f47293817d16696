#!/bin/bash
# relaysync-postlogin.sh -- Dovecot post-login script (script-login) that tells
# the local relaysync agent about each successful POP3/IMAP login, so the
# client's address may relay through the cluster's MTAs for a while.
#
# Configure it per protocol, passing the protocol as the first argument:
#
#   service relaysync-postlogin-imap {
#     executable = script-login /usr/local/libexec/relaysync-postlogin.sh imap
#     ...
#
# Contract: the login never waits on, or fails because of, relaysync. The
# notification runs detached from the login, bounded by a timeout; any failure
# goes to syslog (facility mail) and nowhere else. The script then replaces
# itself with the mail process Dovecot handed it ("$@").
#
# Environment: Dovecot sets USER and IP and clears everything else, so the
# settings below can only come from the service's executable line through
# env(1), e.g.  executable = script-login /usr/bin/env RELAYSYNC_AGENT=/opt/x \
#                              /usr/local/libexec/relaysync-postlogin.sh imap
#   RELAYSYNC_AGENT           agent binary (default /usr/local/bin/relaysync-agent,
#                             else /usr/bin/relaysync-agent, the package's)
#   RELAYSYNC_NOTIFY_SOCKET   agent's notify socket (default /run/relaysync/notify.sock)
#   RELAYSYNC_NOTIFY_TIMEOUT  seconds before a stuck notification is killed (default 5)

relaysync_protocol=
case "${1-}" in
  imap | pop3)
    relaysync_protocol=$1
    shift
    ;;
esac

relaysync_log() {
  if command -v logger >/dev/null 2>&1; then
    logger -t relaysync-postlogin -p mail.warning -- "$*" 2>/dev/null
  fi
}

# Closes every descriptor but 0-2: the notifier must not keep the client's
# connection or Dovecot's sockets open while it waits for the agent.
relaysync_close_fds() {
  local fd
  if [ -d "/proc/$BASHPID/fd" ]; then
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      case $fd in
        0 | 1 | 2 | *[!0-9]*) ;;
        *) eval "exec $fd>&-" ;;
      esac
    done
  else
    for ((fd = 3; fd < 256; fd++)); do eval "exec $fd>&-"; done
  fi
}

# Runs in a detached grandchild: the login has gone on already.
relaysync_notify() {
  local agent socket limit output status
  relaysync_close_fds
  # Dovecot passes no PATH.
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  # /usr/local/bin by hand or cmake --install, /usr/bin from the package.
  agent=${RELAYSYNC_AGENT:-$(command -v relaysync-agent || echo /usr/local/bin/relaysync-agent)}
  socket=${RELAYSYNC_NOTIFY_SOCKET:-/run/relaysync/notify.sock}
  limit=${RELAYSYNC_NOTIFY_TIMEOUT:-5}
  if [ ! -x "$agent" ]; then
    relaysync_log "cannot notify login of ${USER-?} from $IP: $agent is not executable"
    return
  fi
  local -a args=(notify "--socket=$socket")
  # Where notify leaves the login if the agent cannot confirm it; default
  # the socket's path plus ".d" (the agent's --notify-drop-dir).
  if [ -n "${RELAYSYNC_NOTIFY_DROP_DIR-}" ]; then
    args+=("--drop-dir=$RELAYSYNC_NOTIFY_DROP_DIR")
  fi
  if [ -n "$relaysync_protocol" ]; then
    args+=("--protocol=$relaysync_protocol")
  fi
  args+=("$IP")
  if [ -n "${USER-}" ]; then
    args+=("$USER")
  fi
  if command -v timeout >/dev/null 2>&1; then
    output=$(timeout -k 1 "$limit" "$agent" "${args[@]}" 2>&1)
  else
    output=$("$agent" "${args[@]}" 2>&1)
  fi
  status=$?
  if [ "$status" -ne 0 ]; then
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
      output="no answer within ${limit}s"
    fi
    relaysync_log "cannot notify login of ${USER-?} from $IP (exit $status): $output"
  fi
}

if [ -n "${IP-}" ]; then
  # Double fork: the notifier is orphaned at once (no zombie under the mail
  # process) and holds none of the session's standard descriptors.
  (relaysync_notify </dev/null >/dev/null 2>&1 &) </dev/null >/dev/null 2>&1
fi

exec "$@"
