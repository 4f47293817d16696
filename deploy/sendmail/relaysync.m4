divert(-1)dnl
dnl #
dnl # relaysync.m4 -- let recent POP/IMAP clients relay (POP/IMAP-before-SMTP).
dnl #
dnl # Include it in sendmail.mc before the MAILER lines:
dnl #
dnl #	define(`RELAYSYNC_MAP', `/etc/mail/relayers.db')dnl   (optional)
dnl #	include(`/etc/mail/m4/relaysync.m4')dnl
dnl #
dnl # It declares the map `relayers' (a Berkeley DB hash kept by relaysync-agent
dnl # or vsmtprelay) and a Local_check_rcpt ruleset that accepts the recipient
dnl # ($# OK: relaying allowed) when ${client_addr} is a key of the map with a
dnl # non-empty value (the time of the client's last login). Every other
dnl # client, and every failed lookup, falls through to the usual rules.
dnl #
dnl # Keys: IPv4 as a dotted quad (192.0.2.7); IPv6 as sendmail spells the
dnl # client address, lower-cased, since sendmail folds keys to lower case
dnl # before the lookup: ipv6:fd00:db8:0:0:0:0:0:5.
dnl #
dnl # If the .mc already has LOCAL_RULESETS with its own SLocal_check_rcpt,
dnl # paste the rules below into that ruleset instead of including this file.
dnl #
ifdef(`RELAYSYNC_MAP', `', `define(`RELAYSYNC_MAP', `/etc/mail/relayers.db')')

LOCAL_CONFIG
# relaysync: clients that logged in by POP/IMAP recently.
# -o: a missing map file is an empty map, not a start-up error.
Krelayers hash -o RELAYSYNC_MAP

LOCAL_RULESETS
SLocal_check_rcpt
# relaysync: keep the recipient, look ${client_addr} up in the relayers map.
R$*			$: $1 $| <relaysync> $&{client_addr}
R$* $| <relaysync> $+	$: $1 $| <relaysync> $(relayers $2 $: <?> $)
R$* $| <relaysync> <?>	$: $1				not listed: usual rules decide
R$* $| <relaysync> $+	$# OK				listed: recent POP/IMAP login
R$* $| <relaysync> $*	$: $1				no client address, or empty value
divert(0)dnl
