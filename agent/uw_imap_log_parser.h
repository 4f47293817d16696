// Recognizes the successful-login lines of UW-IMAP's imapd and ipop3d
// (c-client), which log only through syslog:
//
//   "... HOST imapd[4242]: Login user=alice host=client.example.org
//    [192.0.2.1]"
//   "... HOST imapd[4242]: Authenticated user=alice host=[2001:db8::5]
//    mech=PLAIN"
//   "... HOST ipop3d[17]: Login user=bob host=[192.0.2.2] nmsgs=3/3"
//   (and "Auth user=", "APOP user=", "Admin Login user=", "... no mailbox")
//
// The user name (up to 80 bytes, unescaped) may hold a fake " host=[...]":
// the address is the last "[...]" of the line once the server's own tail
// (" nmsgs=N/M", " no mailbox", " mech=M") is removed, and the user is what
// lies before the LAST " host=". "Login failed", "Login failure" and
// "AUTHENTICATE ... failure" lines are kRefused; Preauthenticated and proxy
// ("IMAP login to host=") lines are not logins.
//
// One process serves one connection (inetd), so a session is keyed by the
// syslog PID (LogFormat::session_is_process). "Logout user=...",
// "Autologout user=...", "Killed (lost mailbox lock) user=..." and "...,
// while reading line user=..." (a dropped connection) are kSessionEnd.
#ifndef RELAYSYNC_AGENT_UW_IMAP_LOG_PARSER_H_
#define RELAYSYNC_AGENT_UW_IMAP_LOG_PARSER_H_

#include "absl/strings/string_view.h"
#include "agent/log_line.h"

namespace relaysync {

// A LogFormat classifier (agent/log_format.h). NotALogin unless `program`
// is imapd or ipop3d.
LoginVerdict ClassifyUwImapMessage(absl::string_view program,
                                   absl::string_view message);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_UW_IMAP_LOG_PARSER_H_
