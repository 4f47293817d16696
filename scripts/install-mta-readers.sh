#!/usr/bin/env bash
# Unpacks Postfix and Exim into a private tree for the map reader tests
# (tests/backends/map/mta_reader_test.cc) and the end-to-end tests that run
# their daemons (tests/e2e/mta_relay_test.sh), without installing them as
# the machine's MTA: sendmail, postfix and exim4 conflict as Debian packages
# (each provides mail-transport-agent), and the tests need sendmail
# installed. The .debs are fetched with apt-get download and unpacked with
# dpkg -x; the shared libraries they need are installed normally.
# Idempotent; run as root. Usage: install-mta-readers.sh [DIR]
# (default /opt/relaysync-mta, the tests' default too).
set -euo pipefail

dir=${1:-/opt/relaysync-mta}
if [[ $(id -u) -ne 0 ]]; then
  echo "install-mta-readers.sh: must run as root (apt-get install)" >&2
  exit 1
fi

# Runtime libraries of postfix, postfix-cdb, postfix-lmdb and
# exim4-daemon-light (their Depends: lines), short of the MTAs themselves.
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends \
  adduser libc6 libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 libcdb1 liblmdb0 \
  libcrypt1 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libpcre2-8-0

# Exim refuses to start unless its compiled-in user exists; this is what
# exim4-base's postinst does.
if ! getent passwd Debian-exim >/dev/null; then
  adduser --system --group --quiet --home /var/spool/exim4 --no-create-home \
    --disabled-login --force-badname Debian-exim
fi
# Postfix's daemons run as mail_owner (postfix) and its queue tools as
# setgid_group (postdrop), which must differ from every other user and
# group: what postfix's postinst creates.
if ! getent group postdrop >/dev/null; then
  addgroup --system --quiet postdrop
fi
if ! getent passwd postfix >/dev/null; then
  adduser --system --group --quiet --home /var/spool/postfix --no-create-home \
    --disabled-login postfix
fi

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
# apt-get download fetches as the _apt user where it can.
chown _apt "$debs" 2>/dev/null || true
(cd "$debs" && apt-get download postfix postfix-cdb postfix-lmdb \
  exim4-base exim4-daemon-light)
rm -rf "$dir.new"
mkdir -p "$dir.new"
for deb in "$debs"/*.deb; do
  dpkg -x "$deb" "$dir.new"
done
# What postfix's postinst installs: the list of map plugins (found in
# shlib_directory) postmap may load; only cdb and lmdb are unpacked.
grep -E '^(cdb|lmdb)[[:space:]]' "$dir.new/usr/share/postfix/dynamicmaps.cf" \
  >"$dir.new/etc/postfix/dynamicmaps.cf"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "install-mta-readers.sh: postfix and exim unpacked in $dir"
