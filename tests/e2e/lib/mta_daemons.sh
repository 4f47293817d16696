# shellcheck shell=bash
# mta_daemons.sh -- start a real Postfix and a real Exim on loopback for
# end-to-end tests, from the tree scripts/install-mta-readers.sh unpacks
# (they conflict with the installed sendmail as packages, so they are never
# installed as the machine's MTA).
#
# Source it after mail_daemons.sh (it uses md_spawn_group, md_stop_group,
# wait_for_port) and call the start_* functions in the test's own shell, not
# in $(...): they record the daemon's pid for stop_*. Run as root: both
# daemons start as root and give up privileges to their own users
# (postfix/postdrop, Debian-exim), which the install script creates. Every
# wait is bounded; the caller owns WORKDIR.
#
#   start_postfix PORT WORKDIR TABLE [NAME:PORT:TABLE...]
#       Postfix master (in the foreground, `master -d`) with an smtpd on
#       127.0.0.1:PORT whose relay restrictions are deploy/postfix/
#       main.cf.relaysync with the map TABLE (e.g. hash:/x/relayers) in
#       place of hash:/etc/postfix/relayers; each NAME:PORT:TABLE adds an
#       smtpd on PORT with the same restrictions on TABLE (another map
#       kind, e.g. lmdb:/x/relayers). Sets POSTFIX_PID; log in
#       WORKDIR/postfix.log.
#   stop_postfix
#   start_exim PORT WORKDIR ITEM
#       exim -bdf on 127.0.0.1:PORT whose rcpt ACL is deploy/exim/
#       relaysync.acl with the host list item ITEM (e.g. net-dbm;/x/relayers.db)
#       in place of net-dbm;/etc/exim4/relayers.db, placed as in Debian's
#       acl_check_rcpt: after a "restricted characters" deny, before
#       "require domains = +local_domains". Several may run, one WORKDIR
#       each; sets EXIM_PID (and adds it to EXIM_PIDS for stop_exim).
#       Logs in WORKDIR/log/.
#   stop_exim                                  stops every started Exim
#
# The unpacked tree is $RELAYSYNC_MTA_READERS (as for mta_reader_test), else
# $MTA_READERS (ctest sets the CMake cache's RELAYSYNC_MTA_READERS_DIR),
# else /opt/relaysync-mta. With MTA_IPV6=1, every listener also listens on
# [::1] at the same port.

MTA_READERS=${RELAYSYNC_MTA_READERS:-${MTA_READERS:-/opt/relaysync-mta}}
MTA_DAEMONS_REPO=${MTA_DAEMONS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
MTA_HOSTNAME=mx.relaysync.test
MTA_IPV6=${MTA_IPV6:-}
POSTFIX_PID=
EXIM_PID=
EXIM_PIDS=()

mta_log() { echo "mta_daemons: $*" >&2; }

# True when the unpacked Postfix and Exim are there.
mta_readers_present() {
  [ -x "$MTA_READERS/usr/lib/postfix/sbin/master" ] &&
    [ -x "$MTA_READERS/usr/sbin/postfix" ] && [ -x "$MTA_READERS/usr/sbin/exim4" ]
}

# ----------------------------------------------------------------- postfix

# The relay restrictions of deploy/postfix/main.cf.relaysync (its
# smtpd_relay_restrictions value, continuation lines joined) with TABLE as
# the map.
mta_postfix_restrictions() {
  local table=$1
  awk '
    /^smtpd_relay_restrictions[ \t]*=/ { on = 1; sub(/^[^=]*=[ \t]*/, ""); out = $0; next }
    on && /^[ \t]/ { sub(/^[ \t]+/, ""); out = out " " $0; next }
    on { on = 0 }
    END { print out }' "$MTA_DAEMONS_REPO/deploy/postfix/main.cf.relaysync" |
    sed "s|hash:/etc/postfix/relayers|$table|"
}

# Writes WORKDIR/conf/{main.cf,master.cf}. main.cf: the paths of the
# unpacked tree and of WORKDIR, loopback only, no DNS, then the deployed
# snippet verbatim but for the map's path. master.cf: Debian's
# master.cf.dist, chroot and all, with the smtp service on 127.0.0.1:PORT
# (and [::1]:PORT), and one more smtpd (chrooted too) per extra table.
# smtpd opens its tables before it enters the chroot (the queue folder),
# so the maps stay outside it, as /etc/postfix does.
mta_postfix_config() {
  local port=$1 workdir=$2 table=$3
  shift 3
  local conf=$workdir/conf spec name xport xtable addr protocols=ipv4
  [ -z "$MTA_IPV6" ] || protocols=all
  mkdir -p "$conf" "$workdir/queue" "$workdir/data" || return 1
  chown postfix "$workdir/data" || return 1
  grep -q 'hash:/etc/postfix/relayers' "$MTA_DAEMONS_REPO/deploy/postfix/main.cf.relaysync" || {
    mta_log "deploy/postfix/main.cf.relaysync no longer names hash:/etc/postfix/relayers"
    return 1
  }
  {
    cat <<EOF
# relaysync e2e: Postfix from $MTA_READERS on 127.0.0.1:$port
compatibility_level = 3.6
config_directory = $conf
queue_directory = $workdir/queue
data_directory = $workdir/data
command_directory = $MTA_READERS/usr/sbin
daemon_directory = $MTA_READERS/usr/lib/postfix/sbin
shlib_directory = $MTA_READERS/usr/lib/postfix
meta_directory = $MTA_READERS/etc/postfix
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=$MTA_READERS/usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $workdir/postfix.log
maillog_file_prefixes = $workdir
inet_interfaces = 127.0.0.1
inet_protocols = $protocols
myhostname = $MTA_HOSTNAME
mydestination = $MTA_HOSTNAME
# 127.0.0.2 and up, and ::1, are strangers: only 127.0.0.1 is "my network".
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
# No reverse lookup of test clients: nothing leaves loopback.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
EOF
    for spec in "$@"; do
      IFS=: read -r name xport xtable <<<"$spec"
      echo "relaysync_${name}_restrictions = $(mta_postfix_restrictions "$xtable")"
    done
    echo "# deploy/postfix/main.cf.relaysync, the map at $table:"
    sed "s|hash:/etc/postfix/relayers|$table|" "$MTA_DAEMONS_REPO/deploy/postfix/main.cf.relaysync"
  } >"$conf/main.cf" || return 1
  {
    awk -v port="$port" '
      /^[a-z]/ && NF >= 8 { if ($1 == "smtp" && $2 == "inet") $1 = "127.0.0.1:" port }
      { print }' "$MTA_READERS/usr/share/postfix/master.cf.dist"
    [ -z "$MTA_IPV6" ] || echo "[::1]:$port inet n - y - - smtpd"
    for spec in "$@"; do
      IFS=: read -r name xport xtable <<<"$spec"
      for addr in 127.0.0.1 ${MTA_IPV6:+[::1]}; do
        # shellcheck disable=SC2016 # $relaysync_..._restrictions is Postfix's
        printf '%s:%s inet n - y - - smtpd\n  -o syslog_name=postfix/%s\n  -o smtpd_relay_restrictions=$relaysync_%s_restrictions\n' \
          "$addr" "$xport" "$name" "$name"
      done
    done
  } >"$conf/master.cf" || return 1
}

start_postfix() {
  local port=$1 workdir=$2 table=$3
  if [ -z "$port" ] || [ -z "$workdir" ] || [ -z "$table" ]; then
    mta_log "usage: start_postfix PORT WORKDIR TABLE [NAME:PORT:TABLE...]"
    return 2
  fi
  shift 3
  if [ -n "$POSTFIX_PID" ]; then
    mta_log "postfix already started (pid $POSTFIX_PID)"
    return 1
  fi
  mkdir -p "$workdir" && workdir=$(cd "$workdir" && pwd) || return 1
  mta_postfix_config "$port" "$workdir" "$table" "$@" || return 1
  local libs=$MTA_READERS/usr/lib/postfix
  # `postfix check` creates the queue's folders with their owners and
  # modes, as `postfix start` would.
  if ! LD_LIBRARY_PATH=$libs timeout 30 "$MTA_READERS/usr/sbin/postfix" -c "$workdir/conf" check \
    >"$workdir/check.out" 2>&1; then
    mta_log "postfix check failed:"
    cat "$workdir/check.out" "$workdir/postfix.log" >&2 2>/dev/null
    return 1
  fi
  # master -d: in the foreground, as the leader of its own process group.
  md_spawn_group "$workdir/master.out" env LD_LIBRARY_PATH="$libs" \
    "$libs/sbin/master" -c "$workdir/conf" -d
  POSTFIX_PID=$MD_SPAWNED
  local spec name xport xtable
  for spec in "$port" "$@"; do
    IFS=: read -r name xport xtable <<<"$spec"
    [ -n "$xport" ] || xport=$name
    if ! wait_for_port "$xport" 30 "$POSTFIX_PID"; then
      mta_log "postfix did not start; its output and log:"
      cat "$workdir/master.out" "$workdir/postfix.log" >&2 2>/dev/null
      stop_postfix
      return 1
    fi
  done
}

stop_postfix() {
  md_stop_group "$POSTFIX_PID" 5
  POSTFIX_PID=
}

# -------------------------------------------------------------------- exim

start_exim() {
  local port=$1 workdir=$2 item=$3
  if [ -z "$port" ] || [ -z "$workdir" ] || [ -z "$item" ]; then
    mta_log "usage: start_exim PORT WORKDIR ITEM"
    return 2
  fi
  mkdir -p "$workdir/log" "$workdir/spool" && workdir=$(cd "$workdir" && pwd) || return 1
  # Exim writes its logs and spool as its own user.
  chown Debian-exim:Debian-exim "$workdir/log" "$workdir/spool" || return 1
  grep -q 'net-dbm;/etc/exim4/relayers.db' "$MTA_DAEMONS_REPO/deploy/exim/relaysync.acl" || {
    mta_log "deploy/exim/relaysync.acl no longer names net-dbm;/etc/exim4/relayers.db"
    return 1
  }
  {
    cat <<EOF
# relaysync e2e: Exim from $MTA_READERS on 127.0.0.1:$port
exim_user = Debian-exim
exim_group = Debian-exim
primary_hostname = $MTA_HOSTNAME
domainlist local_domains = $MTA_HOSTNAME
local_interfaces = <; 127.0.0.1${MTA_IPV6:+ ; ::1}
spool_directory = $workdir/spool
log_file_path = $workdir/log/%slog
pid_file_path = $workdir/spool/exim.pid
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_rcpt:
EOF
    # Debian's acl_check_rcpt in short: the checks every client passes,
    # the snippet where relaysync.acl says, then relaying denied.
    cat <<'EOF'
  deny
    domains = !+local_domains
    local_parts = ^[./|] : ^.*[@%!#&?]
    message = restricted characters in address
EOF
    echo "# deploy/exim/relaysync.acl, the map at $item:"
    sed "s|net-dbm;/etc/exim4/relayers.db|$item|" "$MTA_DAEMONS_REPO/deploy/exim/relaysync.acl"
    cat <<'EOF'
  require
    message = relay not permitted
    domains = +local_domains
  accept
EOF
  } >"$workdir/exim.conf" || return 1
  # -bdf: the daemon in the foreground; -oX: this port only.
  md_spawn_group "$workdir/exim.out" "$MTA_READERS/usr/sbin/exim4" -C "$workdir/exim.conf" \
    -bdf -oX "$port"
  EXIM_PID=$MD_SPAWNED
  EXIM_PIDS+=("$EXIM_PID")
  if ! wait_for_port "$port" 30 "$EXIM_PID"; then
    mta_log "exim did not start; its output and log:"
    cat "$workdir/exim.out" "$workdir"/log/* >&2 2>/dev/null
    return 1
  fi
}

stop_exim() {
  local pid
  # TERM to every daemon first, so that together they take one wait.
  for pid in "${EXIM_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null
  done
  for pid in "${EXIM_PIDS[@]}"; do
    md_stop_group "$pid" 5
  done
  EXIM_PIDS=()
  EXIM_PID=
}
