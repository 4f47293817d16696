# shellcheck shell=bash
# mail_daemons.sh -- start real sendmail and Dovecot on loopback for
# end-to-end tests, and talk to them as a client from a chosen address.
#
# Source it from bash (`. tests/e2e/lib/mail_daemons.sh`) and call the start_*
# functions in the test's own shell, not in $(...): they record the daemon's
# pid in a global for stop_*. Run as root (sendmail binds, Dovecot switches
# users, sendmail runs in `unshare --mount --uts`). Every wait is bounded.
# The caller owns WORKDIR (and removes it); stop_* only stop processes.
#
#   pick_free_port                             print a free TCP port on 127.0.0.1
#   wait_for_port PORT [SECONDS [PID]]         until something listens on 127.0.0.1:PORT
#                                              (fails early if PID exits)
#   start_sendmail MAPFILE PORT WORKDIR        sendmail -bD on 127.0.0.1:PORT reading the
#                                              relayers map MAPFILE; sets SENDMAIL_PID
#   stop_sendmail
#   sendmail_test_address RULESET ADDRESS CLIENT_ADDR
#                                              `sendmail -bt` on the started sendmail.cf
#   start_dovecot IMAP_PORT POP3_PORT WORKDIR [POSTLOGIN_SCRIPT]
#                                              Dovecot on 127.0.0.1; sets DOVECOT_PID;
#                                              log in WORKDIR/dovecot.log
#   stop_dovecot
#   imap_login FROM_IP PORT USER PASS          exit 0 when the login succeeded
#   pop3_login FROM_IP PORT USER PASS          exit 0 when the login succeeded
#   smtp_relay_status FROM_IP PORT RCPT        print the RCPT TO reply code (250, 550...)
#
# Dovecot's user is alice / password (MAIL_DAEMONS_USER / MAIL_DAEMONS_PASS),
# mapped to the system user relaysync-test (created if missing), which also
# runs the post-login script. With POSTLOGIN_SCRIPT, Dovecot gets the service
# blocks of deploy/dovecot/10-relaysync.conf, and RELAYSYNC_AGENT,
# RELAYSYNC_NOTIFY_SOCKET and RELAYSYNC_NOTIFY_TIMEOUT from the caller's
# environment reach the script.

MAIL_DAEMONS_REPO=${MAIL_DAEMONS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
MAIL_DAEMONS_HOST=127.0.0.1
MAIL_DAEMONS_HOSTNAME=mx.relaysync.test
MAIL_DAEMONS_USER=alice
MAIL_DAEMONS_PASS=password
MAIL_DAEMONS_SYSUSER=relaysync-test
# Set by start_* for stop_* and for the caller.
SENDMAIL_PID=
SENDMAIL_WORKDIR=
DOVECOT_PID=
# shellcheck disable=SC2034 # for the caller
DOVECOT_WORKDIR=

md_log() { echo "mail_daemons: $*" >&2; }

pick_free_port() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' && return 0
    fi
  done
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# True once a socket listens on 127.0.0.1:PORT (checked without connecting).
md_listening() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

wait_for_port() {
  local port=$1 seconds=${2:-30} pid=${3:-} i
  for ((i = 0; i < seconds * 10; i++)); do
    md_listening "$port" && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      md_log "process $pid exited before listening on port $port"
      return 1
    fi
    sleep 0.1
  done
  md_log "nothing listens on 127.0.0.1:$port after ${seconds}s"
  return 1
}

# md_spawn_group OUTFILE COMMAND...: starts COMMAND in the background as the
# leader of its own process group (so that md_stop_group reaches its
# children), output to OUTFILE; sets MD_SPAWNED to its pid.
md_spawn_group() {
  local out=$1
  shift
  if [[ $- == *m* ]]; then
    "$@" </dev/null >"$out" 2>&1 & # job control: a job is its own group already
  else
    setsid "$@" </dev/null >"$out" 2>&1 &
  fi
  MD_SPAWNED=$!
}

# Stops the process group led by PID: TERM, then KILL after SECONDS.
md_stop_group() {
  local pid=$1 seconds=${2:-5} i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# ---------------------------------------------------------------- sendmail

# Writes WORKDIR/sendmail.mc and builds WORKDIR/sendmail.cf from Debian's cf
# files plus deploy/sendmail/relaysync.m4 with the map at MAPFILE.
md_sendmail_config() {
  local mapfile=$1 port=$2 workdir=$3
  mkdir -p "$workdir/mqueue" || return 1
  chmod 0700 "$workdir/mqueue"
  printf '127.0.0.1\tlocalhost\n127.0.0.1\t%s mx\n::1\tlocalhost ip6-localhost\n::1\t%s mx\n' \
    "$MAIL_DAEMONS_HOSTNAME" "$MAIL_DAEMONS_HOSTNAME" >"$workdir/hosts"
  # Host names from the hosts file only: no DNS, so nothing waits on a resolver.
  printf 'hosts\tfiles\naliases\tfiles\n' >"$workdir/service.switch"
  printf 'postmaster:\troot\nMAILER-DAEMON:\tpostmaster\n' >"$workdir/aliases"
  : >"$workdir/sendmail.st"
  cat >"$workdir/sendmail.mc" <<EOF
divert(-1)dnl
dnl relaysync e2e: sendmail on 127.0.0.1:$port, relayers map $mapfile
divert(0)dnl
include(\`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`relaysync e2e test')dnl
OSTYPE(\`debian')dnl
define(\`confDOMAIN_NAME', \`$MAIL_DAEMONS_HOSTNAME')dnl
define(\`confPID_FILE', \`$workdir/sendmail.pid')dnl
define(\`QUEUE_DIR', \`$workdir/mqueue')dnl
define(\`STATUS_FILE', \`$workdir/sendmail.st')dnl
undefine(\`confHOST_STATUS_DIRECTORY')dnl
define(\`ALIAS_FILE', \`$workdir/aliases')dnl
define(\`confSERVICE_SWITCH_FILE', \`$workdir/service.switch')dnl
define(\`confHOSTS_FILE', \`$workdir/hosts')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confPRIVACY_FLAGS', \`authwarnings')dnl
define(\`confDONT_BLAME_SENDMAIL', \`MapInUnsafeDirPath')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-v4, Port=$port, Addr=127.0.0.1')dnl
define(\`RELAYSYNC_MAP', \`$mapfile')dnl
include(\`$MAIL_DAEMONS_REPO/deploy/sendmail/relaysync.m4')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
  m4 "$workdir/sendmail.mc" >"$workdir/sendmail.cf" 2>"$workdir/m4.err" || {
    md_log "m4 failed: $(cat "$workdir/m4.err")"
    return 1
  }
  if [ -s "$workdir/m4.err" ]; then
    md_log "m4 warnings: $(cat "$workdir/m4.err")"
    return 1
  fi
}

# The command line that runs COMMAND... inside a private mount and UTS
# namespace where /etc/hosts is WORKDIR/hosts and the host name is
# $MAIL_DAEMONS_HOSTNAME: sendmail finds its own name at once there instead of
# sleeping 60 s on a failed lookup. Use: "${MD_NS[@]}" WORKDIR COMMAND...
# shellcheck disable=SC2016 # expanded by that inner sh
MD_NS=(unshare --mount --uts /bin/sh -c '
  workdir=$1; name=$2; shift 2
  mount --bind "$workdir/hosts" /etc/hosts && hostname "$name" && exec "$@"
' md-sendmail)

# sendmail_test_address RULESET ADDRESS CLIENT_ADDR: one `sendmail -bt` test of
# the started sendmail's configuration; prints sendmail's output.
sendmail_test_address() {
  local ruleset=$1 address=$2 client=$3
  printf '.D{client_addr}%s\n%s %s\n' "$client" "$ruleset" "$address" |
    timeout 20 "${MD_NS[@]}" "$SENDMAIL_WORKDIR" "$MAIL_DAEMONS_HOSTNAME" \
      /usr/sbin/sendmail -C "$SENDMAIL_WORKDIR/sendmail.cf" -bt 2>&1
}

start_sendmail() {
  local mapfile=$1 port=$2 workdir=$3
  if [ -z "$mapfile" ] || [ -z "$port" ] || [ -z "$workdir" ]; then
    md_log "usage: start_sendmail MAPFILE PORT WORKDIR"
    return 2
  fi
  if [ -n "$SENDMAIL_PID" ]; then
    md_log "sendmail already started (pid $SENDMAIL_PID)"
    return 1
  fi
  mkdir -p "$workdir" && workdir=$(cd "$workdir" && pwd) || return 1
  md_sendmail_config "$mapfile" "$port" "$workdir" || return 1
  SENDMAIL_WORKDIR=$workdir
  # Rebuild the aliases db first (same namespace, so no 60 s host lookup).
  timeout 20 "${MD_NS[@]}" "$workdir" "$MAIL_DAEMONS_HOSTNAME" \
    /usr/sbin/sendmail -C "$workdir/sendmail.cf" -bi </dev/null >"$workdir/newaliases.out" 2>&1
  # -bD: daemon in the foreground, in its own process group so that
  # stop_sendmail reaches every session child too.
  md_spawn_group "$workdir/sendmail.out" "${MD_NS[@]}" "$workdir" "$MAIL_DAEMONS_HOSTNAME" \
    /usr/sbin/sendmail -C "$workdir/sendmail.cf" -bD
  SENDMAIL_PID=$MD_SPAWNED
  if ! wait_for_port "$port" 30 "$SENDMAIL_PID"; then
    md_log "sendmail did not start; its output:"
    cat "$workdir/sendmail.out" >&2
    stop_sendmail
    return 1
  fi
}

stop_sendmail() {
  md_stop_group "$SENDMAIL_PID" 5
  SENDMAIL_PID=
}

# ----------------------------------------------------------------- dovecot

md_ensure_sysuser() {
  local i
  for i in 1 2 3 4 5; do
    getent passwd "$MAIL_DAEMONS_SYSUSER" >/dev/null && return 0
    useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$MAIL_DAEMONS_SYSUSER" 2>/dev/null && return 0
    sleep 0.5 # another test may hold the passwd lock
  done
  getent passwd "$MAIL_DAEMONS_SYSUSER" >/dev/null || {
    md_log "cannot create the system user $MAIL_DAEMONS_SYSUSER"
    return 1
  }
}

# Variables of the caller's environment handed to the post-login script.
# script-login clears the environment (import_environment does not reach the
# script), so they go on the executable line through env(1).
MAIL_DAEMONS_POSTLOGIN_ENV="RELAYSYNC_AGENT RELAYSYNC_NOTIFY_SOCKET RELAYSYNC_NOTIFY_TIMEOUT"

md_dovecot_config() {
  local imap_port=$1 pop3_port=$2 workdir=$3 postlogin=$4
  local uid gid var env_prefix=""
  uid=$(id -u "$MAIL_DAEMONS_SYSUSER") && gid=$(id -g "$MAIL_DAEMONS_SYSUSER") || return 1
  mkdir -p "$workdir/run" "$workdir/state" "$workdir/mail" || return 1
  chmod 0755 "$workdir" "$workdir/run" "$workdir/state"
  chown "$uid:$gid" "$workdir/mail"
  chmod 0700 "$workdir/mail"
  printf '%s:{PLAIN}%s:%s:%s::%s/mail/%s::\n' "$MAIL_DAEMONS_USER" "$MAIL_DAEMONS_PASS" \
    "$uid" "$gid" "$workdir" "$MAIL_DAEMONS_USER" >"$workdir/users"
  chmod 0644 "$workdir/users"
  for var in $MAIL_DAEMONS_POSTLOGIN_ENV; do
    if [ -n "${!var-}" ]; then
      env_prefix="$env_prefix $var=${!var}"
    fi
  done
  [ -z "$env_prefix" ] || env_prefix="/usr/bin/env$env_prefix "
  cat >"$workdir/dovecot.conf" <<EOF
# relaysync e2e: Dovecot on 127.0.0.1, imap $imap_port, pop3 $pop3_port
base_dir = $workdir/run
state_dir = $workdir/state
log_path = $workdir/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
shutdown_clients = yes

passdb {
  driver = passwd-file
  args = $workdir/users
}
userdb {
  driver = passwd-file
  args = $workdir/users
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3_port
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
  if [ -n "$postlogin" ]; then
    # A copy in the 0755 work dir: readable and executable by the script's
    # user whatever the permissions of the checkout's folders. The service
    # blocks are deploy/dovecot/10-relaysync.conf with the test's paths and
    # user.
    install -m 0755 "$postlogin" "$workdir/relaysync-postlogin.sh" || return 1
    {
      echo
      sed -e "s|/usr/local/libexec/relaysync-postlogin.sh|${env_prefix}$workdir/relaysync-postlogin.sh|" \
        -e "s|^\( *user = \)relaysync\$|\1$MAIL_DAEMONS_SYSUSER|" \
        "$MAIL_DAEMONS_REPO/deploy/dovecot/10-relaysync.conf"
    } >>"$workdir/dovecot.conf" || return 1
  fi
}

start_dovecot() {
  local imap_port=$1 pop3_port=$2 workdir=$3 postlogin=${4:-}
  if [ -z "$imap_port" ] || [ -z "$pop3_port" ] || [ -z "$workdir" ]; then
    md_log "usage: start_dovecot IMAP_PORT POP3_PORT WORKDIR [POSTLOGIN_SCRIPT]"
    return 2
  fi
  if [ -n "$DOVECOT_PID" ]; then
    md_log "dovecot already started (pid $DOVECOT_PID)"
    return 1
  fi
  md_ensure_sysuser || return 1
  mkdir -p "$workdir" && workdir=$(cd "$workdir" && pwd) || return 1
  md_dovecot_config "$imap_port" "$pop3_port" "$workdir" "$postlogin" || return 1
  # Dovecot's auth reads the users file as dovecot; the post-login script runs
  # as the test user.
  local reader
  for reader in dovecot "$MAIL_DAEMONS_SYSUSER"; do
    if ! setpriv --reuid="$reader" --regid="$(id -g "$reader")" --clear-groups \
      test -r "$workdir/users" 2>/dev/null; then
      md_log "$workdir/users is not readable by $reader: is a parent folder of $workdir 0700?"
      return 1
    fi
  done
  # shellcheck disable=SC2034 # for the caller
  DOVECOT_WORKDIR=$workdir
  md_spawn_group "$workdir/dovecot.out" /usr/sbin/dovecot -F -c "$workdir/dovecot.conf"
  DOVECOT_PID=$MD_SPAWNED
  if ! wait_for_port "$imap_port" 30 "$DOVECOT_PID" ||
    ! wait_for_port "$pop3_port" 10 "$DOVECOT_PID"; then
    md_log "dovecot did not start; its output and log:"
    cat "$workdir/dovecot.out" "$workdir/dovecot.log" >&2 2>/dev/null
    stop_dovecot
    return 1
  fi
}

stop_dovecot() {
  md_stop_group "$DOVECOT_PID" 5
  DOVECOT_PID=
}

# ------------------------------------------------------------------ clients

md_curl_login() {
  local scheme=$1 from=$2 port=$3 user=$4 pass=$5 out
  if ! out=$(curl --silent --show-error --max-time 10 --interface "$from" \
    --user "$user:$pass" "$scheme://$MAIL_DAEMONS_HOST:$port/" 2>&1); then
    md_log "$scheme login of $user from $from failed: $out"
    return 1
  fi
}

imap_login() { md_curl_login imap "$@"; }
pop3_login() { md_curl_login pop3 "$@"; }

# Prints the three-digit reply to RCPT TO (e.g. 250, 550), or 000 when the
# session ended before it; exit 0 when a reply code was read.
smtp_relay_status() {
  local from=$1 port=$2 rcpt=$3 out code
  out=$(swaks --server "$MAIL_DAEMONS_HOST" --port "$port" --local-interface "$from" \
    --helo client.relaysync.test --from "sender@client.relaysync.test" --to "$rcpt" \
    --quit-after RCPT --timeout 15 2>&1)
  code=$(printf '%s\n' "$out" | awk '
    / -> RCPT TO:/ { want = 1; next }
    want && /^<(-|\*\*) +[0-9][0-9][0-9]/ { sub(/^<(-|\*\*) +/, ""); print substr($0, 1, 3); exit }')
  if [ -z "$code" ]; then
    md_log "no RCPT TO reply from 127.0.0.1:$port; swaks said:"
    printf '%s\n' "$out" >&2
    echo 000
    return 1
  fi
  echo "$code"
}
