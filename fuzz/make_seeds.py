#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/ (run from anywhere).

The seeds are small, hand-chosen inputs: valid forms to start each fuzzer
deep in its parser, and edge cases. fuzz/corpus/dovecot_log_parser/inject-*
is the log-injection corpus (CVE-2001-1075 class) that
tests/agent/log_injection_test.cc also feeds through the parser and the log
tailer: every address in it an attacker chose is 6.6.6.6, 203.0.113.66 or
2001:db8:bad::66; the only genuine client address is 192.0.2.10.
fuzz/corpus/log_formats/ holds the same kind of lines for every log format.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- address ---------------------------------------------------------------
ADDRESSES = [
    "10.11.12.13", "0.0.0.0", "255.255.255.255", "192.0.2.1", "010.1.2.3",
    "1.2.3", "1.2.3.4.5", "256.1.1.1", "::", "::1", "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1", "fd00:db8:0:0:0:0:0:5", "IPv6:fd00:db8::5",
    "ipv6:1:2:3:4:5:6:7:8", "::ffff:192.0.2.7", "::ffff:c000:207",
    "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "fe80::1%eth0", "2001:db8::/32",
    "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", " 1.2.3.4", "1.2.3.4 ",
    "ipv6:1.2.3.4", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "0:0:0:0:0:0:0:0",
]
for i, a in enumerate(ADDRESSES):
    write("address", "seed-%02d" % i, a)

# --- dovecot_log_parser ------------------------------------------------------
GENUINE_TAIL = ", method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=25535, session=<Ab12>"
OWN = "Nov 25 04:25:38 imap-login: Info: Login: user=<%s>" + GENUINE_TAIL
SYSLOG = "Nov 25 04:28:35 mx dovecot[812]: pop3-login: Login: user=<%s>" + GENUINE_TAIL
RFC3339 = ("2026-11-25T04:28:35.123456+00:00 mx dovecot: imap-login: Info: "
           "Login: user=<%s>" + GENUINE_TAIL)

genuine = [
    OWN % "alice",
    SYSLOG % "bob@example.org",
    RFC3339 % "carol",
    "Nov  5 04:25:38 mx dovecot: imap-login: Login: user=<dave>, method=PLAIN, "
    "rip=2001:db8::7, lip=2001:db8::1, mpid=2, TLS, session=<b>",
    "Nov 25 04:25:38 imap-login: Info: Login: user=<erin>, method=PLAIN, "
    "rip=192.0.2.10, lip=192.0.2.1\r",
    "Nov 25 04:25:38 imap-login: Info: Disconnected (auth failed, 1 attempts "
    "in 2 secs): user=<alice>, method=PLAIN, rip=192.0.2.9, lip=192.0.2.1",
    "Feb 29 04:25:38 imap-login: Info: Login: user=<leap>, method=PLAIN, "
    "rip=192.0.2.10, lip=192.0.2.1",
    "Dec 31 23:59:59 imap-login: Info: Login: user=<eve>, method=PLAIN, "
    "rip=192.0.2.10, lip=192.0.2.1",
]
for i, line in enumerate(genuine):
    write("dovecot_log_parser", "genuine-%02d" % i, line)

# User names chosen by an attacker, in a genuine line (Dovecot writes the
# real tail after them).
EVIL_USERS = {
    "rip-in-user": "x, rip=6.6.6.6",
    "fake-tail": "a>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "fake-tail-session": "a>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1, mpid=1, session=<x>",
    "fake-user-field": "user=<a>, rip=6.6.6.6",
    "lip-swap": "x>, method=PLAIN, rip=203.0.113.66, lip=6.6.6.6",
    "comma-rip": ", rip=1.2.3.4, rip=6.6.6.6",
    "no-space": "x>, method=PLAIN,rip=6.6.6.6,lip=192.0.2.1",
    "upper-rip": "x>, method=PLAIN, RIP=6.6.6.6, LIP=192.0.2.1",
    "angle-tricks": "x>>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1<>",
    "angle-open": "<<a>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1, <",
    "login-in-user": "x Login: user=<y>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "v6-in-user": "x>, method=PLAIN, rip=2001:db8:bad::66, lip=2001:db8::1",
    "mapped-in-user": "x>, method=PLAIN, rip=::ffff:6.6.6.6, lip=192.0.2.1",
    "sendmail-tag": "x>, method=PLAIN, rip=IPv6:2001:db8:bad::66, lip=192.0.2.1",
    "latin1": "\xe9l\xe8ve>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "nul": "a\x00>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "cr": "a\r>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "tab": "a\t>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "escape": "a\x1b[2K>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "nl-tail": "a\n, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "nl-stamp": "a\nNov 25 04:25:39 imap-login: Info: Login: user=<b>, "
                "method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "nl-syslog": "a\nNov 25 04:25:39 mx dovecot: imap-login: Login: user=<b>, "
                 "method=PLAIN, rip=203.0.113.66, lip=192.0.2.1",
    "long-256": "A" * 200 + ">, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "long-600": "A" * 560 + ">, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
}
for name, user in EVIL_USERS.items():
    write("dovecot_log_parser", "inject-own-" + name, OWN % user)
    write("dovecot_log_parser", "inject-syslog-" + name, SYSLOG % user)

# Whole lines an attacker shapes, cut or glued (no genuine login in them).
write("dovecot_log_parser", "inject-failed-login",
      "Nov 25 04:25:38 imap-login: Info: Disconnected (auth failed, 1 "
      "attempts in 2 secs): user=<x Login: user=<y>, method=PLAIN, "
      "rip=6.6.6.6, lip=192.0.2.1>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1")
write("dovecot_log_parser", "inject-cut-by-syslog",
      "Nov 25 04:25:38 imap-login: Info: Login: user=<" + "A" * 900 +
      ">, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1")
write("dovecot_log_parser", "inject-very-long",
      OWN % ("B" * 5000 + ">, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1"))
write("dovecot_log_parser", "inject-id-sent",
      "Nov 25 04:25:38 imap-login: Info: ID sent: name=<Login: user=<x>, "
      "method=PLAIN, rip=6.6.6.6, lip=192.0.2.1>")
write("dovecot_log_parser", "inject-nul-before-stamp",
      "\x00Nov 25 04:25:38 imap-login: Info: Login: user=<x>, method=PLAIN, "
      "rip=6.6.6.6, lip=192.0.2.1")
# A raw newline that ends the line after a complete forged login: only a
# log writer that passes raw newlines makes this possible (Dovecot writes
# '?'), and then the piece after the newline is a whole forged line. The
# parser refuses the unsplit line; the tailer test writes it as Dovecot
# would (see tests/agent/log_injection_test.cc).
write("dovecot_log_parser", "inject-nl-forged-line",
      OWN % "a\nNov 25 04:25:39 imap-login: Info: Login: user=<b>, "
      "method=PLAIN, rip=6.6.6.6, lip=192.0.2.1\n")

# --- log_formats ---------------------------------------------------------------
# Every format through ClassifyLogLine with --log-format=auto: a genuine line
# of each daemon (client 192.0.2.10), its failures, and user names carrying a
# fake address field of each format (the attacker's address is 6.6.6.6).
FORMAT_LINES = {
    "courier": "Nov 25 04:25:38 mx imapd: LOGIN, user=%s, "
               "ip=[::ffff:192.0.2.10], port=[51234], protocol=IMAP",
    "courier-pop3": "2026-11-25T04:28:35.123456+00:00 mx pop3d-ssl[812]: "
                    "LOGIN, user=%s, ip=[192.0.2.10], port=[995], "
                    "protocol=POP3, stls=1",
    "cyrus": "Nov 25 04:25:38 mx cyrus/imap[4242]: login: client.example.org "
             "[192.0.2.10] %s plaintext+TLS User logged in "
             "SESSIONID=<mx-4242-1764044738-1-123>",
    "cyrus-pop3": "Nov  5 04:25:38 mx cyrus/pop3s[17]: login: [2001:db8::10] "
                  "%s PLAIN User logged in",
    "qpopper": "Nov 25 04:25:38 mx in.qpopper[7597]: (v4.0.9) POP login by "
               "user \"%s\" at (client.example.org) 192.0.2.10 "
               "[pop_log.c:244]",
    "uw-imap": "Nov 25 04:25:38 mx imapd[4242]: Login user=%s "
               "host=client.example.org [192.0.2.10]",
    "uw-imap-auth": "Nov 25 04:25:38 mx imapd[4242]: Authenticated user=%s "
                    "host=[::ffff:192.0.2.10] mech=PLAIN",
    "uw-ipop3d": "Nov 25 04:25:38 mx ipop3d[17]: Login user=%s "
                 "host=[192.0.2.10] nmsgs=3/3",
    "dovecot": OWN,
    # Session ends (agent/session_tracker.h).
    "dovecot-end": "Dec 02 11:34:35 imap(%s)<17224><Oxv8BqVhfuZ/AAAB>: Info: "
                   "Disconnected: Logged out in=8 out=468",
    "courier-end": "Nov 25 05:25:38 mx imapd-ssl: LOGOUT, user=%s, "
                   "ip=[::ffff:192.0.2.10], port=[51234], headers=0, body=0, "
                   "rcvd=12, sent=46, time=3600",
    "uw-imap-end": "Nov 25 05:25:38 mx imapd[4242]: Logout user=%s "
                   "host=client.example.org [2001:db8::10]",
}
FORMAT_EVIL_USERS = {
    "plain": "alice",
    "courier-ip": "x, ip=[6.6.6.6], port=[1], protocol=IMAP",
    "cyrus-host": "x [6.6.6.6] y",
    "qpopper-at": "x\" at (h) 6.6.6.6",
    "uw-host": "x host=[6.6.6.6] mech=PLAIN",
    "uw-nmsgs": "x host=evil [6.6.6.6] nmsgs=1/1",
    "dovecot-rip": "a>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
    "latin1": "\xe9l\xe8ve, ip=[6.6.6.6]",
    "dovecot-prefix": "x)<1><VICTIM>: Info: Logged out",
}
for fmt, line in FORMAT_LINES.items():
    for name, user in FORMAT_EVIL_USERS.items():
        write("log_formats", "%s-%s" % (fmt, name), line % user)
for i, line in enumerate([
    "Nov 25 04:25:38 mx imapd-ssl: LOGIN FAILED, method=PLAIN, user=a, "
    "ip=[::ffff:192.0.2.10]",
    "Nov 25 04:25:38 mx cyrus/imap[1]: badlogin: c.example [192.0.2.10] "
    "plaintext a SASL(-13): authentication failure: checkpass failed",
    "Nov 25 04:25:38 mx qpopper[1]: a at c.example (192.0.2.10): -ERR [AUTH] "
    "Password supplied for \"a\" is incorrect. [pop_pass.c:1036]",
    "Nov 25 04:25:38 mx imapd[1]: Login failed user=a auth=a "
    "host=[192.0.2.10]",
    "Nov 25 04:25:38 mx sm-mta[1]: x: from=\"POP login by user \"admin\" "
    "at (h) 6.6.6.6\"@example.org",
    "Nov 25 04:25:38 mx imapd: LOGOUT, user=a, ip=[::ffff:192.0.2.10], "
    "headers=0, body=0, rcvd=1, sent=2, time=3",
    "Nov 25 04:25:38 mx qpopper[1]: Stats: a 0 0 1 2 h 192.0.2.10",
]):
    write("log_formats", "other-%02d" % i, line)

# --- notify_message ----------------------------------------------------------
notify = [
    "v1\t192.0.2.7\talice\timap\tscript-login\n",
    "v1\t2001:db8::7\tbob\tpop3\t\n",
    "v1\t::ffff:192.0.2.7\t\tunknown\tx",
    "v1\t192.0.2.7\tal\x00ice\timap\tx\n",
    "v1\t192.0.2.7\talice\tIMAP\tx\n",
    "v2\t192.0.2.7\talice\timap\tx\n",
    "v1\t192.0.2.7\talice\timap\tx\ty\n",
    "v1\t010.0.2.7\talice\timap\tx\n",
    "v1\t192.0.2.7\t" + "u" * 300 + "\timap\tx\n",
    "v1\t192.0.2.7\t\xe9l\xe8ve\timap\tnotify:spoof\n",
]
for i, m in enumerate(notify):
    write("notify_message", "seed-%02d" % i, m)

# --- spool_record ------------------------------------------------------------
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(kind, payload):
    length = struct.pack("<I", len(payload))
    crc = crc32c(length + bytes([kind]) + payload)
    return length + struct.pack("<I", crc) + bytes([kind]) + payload


def pstr(s):
    s = s.encode("latin-1") if isinstance(s, str) else s
    return struct.pack("<I", len(s)) + s


def header(next_seq):
    return pstr("relaysync-spool v1") + struct.pack("<Q", next_seq)


def add(seq, host, address, user, proto=2, t=1795000000, source="notify"):
    return (struct.pack("<Q", seq) + pstr("%s/%d" % (host, seq)) +
            struct.pack("<Q", t) + bytes([proto]) + pstr(address) +
            pstr(user) + pstr(source))


def ack(ids):
    out = struct.pack("<I", len(ids))
    for i in ids:
        out += pstr(i)
    return out


spool = (frame(1, header(1)) + frame(2, add(1, "mx1", "192.0.2.7", "alice")) +
         frame(2, add(2, "mx1", "2001:db8::7", "bob", 1)) +
         frame(3, ack(["mx1/1"])))
write("spool_record", "file-good", b"\x00" + spool)
write("spool_record", "file-torn", b"\x01" + spool[:-3])
write("spool_record", "file-bad-crc", b"\x02" + spool[:20] + b"\xff" + spool[21:])
write("spool_record", "payload-header", b"\x81" + header(42))
write("spool_record", "payload-add", b"\x82" + add(7, "mx1", "192.0.2.7", "alice"))
write("spool_record", "payload-ack", b"\x83" + ack(["mx1/1", "mx1/2"]))
write("spool_record", "payload-add-short", b"\x82" + add(7, "mx1", "1.2.3.4", "u")[:-2])


def replay(records):
    # The replay mode's input: per record, type, u16 LE length, payload.
    out = b""
    for kind, payload in records:
        out += bytes([kind]) + struct.pack("<H", len(payload)) + payload
    return b"\x40" + out


write("spool_record", "replay-good",
      replay([(0, header(3)), (1, add(1, "mx1", "192.0.2.7", "alice")),
              (1, add(2, "mx1", "192.0.2.8", "bob")), (2, ack(["mx1/1"]))]))
write("spool_record", "replay-no-header",
      replay([(1, add(1, "mx1", "192.0.2.7", "alice"))]))
write("spool_record", "replay-dup-seq",
      replay([(0, header(1)), (1, add(5, "mx1", "192.0.2.7", "a")),
              (1, add(5, "mx1", "192.0.2.8", "b")),
              (1, add(2, "mx1", "192.0.2.9", "c"))]))

# --- state_files -------------------------------------------------------------
write("state_files", "agent-good",
      b"\x00relaysync-agent-state v1\nstore_epoch 5f3a\napplied_version 42\n"
      b"boot_id 0c8f-11\n")
write("state_files", "agent-empty-epoch",
      b"\x00relaysync-agent-state v1\nstore_epoch \napplied_version 0\n")
write("state_files", "agent-bad-version",
      b"\x00relaysync-agent-state v1\nstore_epoch e\napplied_version -1\n")
write("state_files", "agent-nul-epoch",
      b"\x00relaysync-agent-state v1\nstore_epoch e\x00x\napplied_version 1\n")
write("state_files", "tail-good",
      b"\x01relaysync-log-tailer v1\npath /var/log/dovecot.log\ndevice 2049\n"
      b"inode 131\noffset 4096\nskip 0\nhead 64 3735928559\n")
write("state_files", "tail-skip",
      b"\x01relaysync-log-tailer v1\npath /x\ndevice 0\ninode 0\noffset 0\n"
      b"skip 1\nhead 0 0\n")
write("state_files", "tail-bad",
      b"\x01relaysync-log-tailer v1\npath \noffset -5\nhead 1\n")

# --- vsmtprelay_args ---------------------------------------------------------
args = [
    ["add", "192.0.2.9"], ["add", "2001:db8::9", "1800000000"],
    ["--key-style=sendmail", "add", "fd00:db8::5"], ["--nul-keys", "list", "5"],
    ["delete", "192.0.2.1", "192.0.2.2"], ["expire"], ["expire", "10"],
    ["list"], ["dump"], ["status"], ["--btree", "dump"], ["--help"],
    ["--version"], ["--timeout", "3", "dump"], ["--", "--help"],
    ["add", "010.1.2.3"], ["add", "1.2.3.4", "-5"], ["list", "99999999999999"],
    ["--key-style", "weird", "dump"], ["frobnicate"],
]
for i, a in enumerate(args):
    write("vsmtprelay_args", "seed-%02d" % i, "\x00".join(a))

# --- agent_message -----------------------------------------------------------
def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    payload = payload.encode("latin-1") if isinstance(payload, str) else payload
    return key + varint(len(payload)) + payload


def event(eid, address, t, user="alice", proto=2, source="notify"):
    return (field(1, 2, eid) + field(2, 2, address) + field(3, 0, t) +
            field(4, 2, user) + field(5, 0, proto) + field(6, 2, source))


def batch(events):
    return field(2, 2, b"".join(field(1, 2, e) for e in events))


T = 1795000000
write("agent_message", "hello",
      field(1, 2, field(1, 2, "mx1") + field(2, 0, 7) + field(3, 2, "5f3a") +
            field(4, 2, "0.1.0")))
write("agent_message", "hello-empty", field(1, 2, b""))
write("agent_message", "applied", field(3, 2, field(1, 0, 12)))
write("agent_message", "batch",
      batch([event("mx1/1", "192.0.2.7", T), event("mx1/2", "2001:db8::7", T - 5),
             event("mx1/3", "::ffff:192.0.2.8", T + 10**6)]))
write("agent_message", "batch-same-address",
      batch([event("mx1/1", "192.0.2.7", T - 100), event("mx1/2", "192.0.2.7", T),
             event("mx1/3", "192.0.2.7", T - 50)]))
write("agent_message", "batch-invalid",
      batch([event("mx1/1", "010.1.2.3", T), event("mx1/2", "192.0.2.7", 0),
             event("mx1/3", "192.0.2.7", -5), event("x" * 300, "192.0.2.7", T),
             event("mx1/5", "IPv6:2001:db8::5", T)]))
write("agent_message", "batch-old", batch([event("mx1/1", "192.0.2.7", 1000)]))
