// Recognizes the successful-login lines of Cyrus IMAP's imapd and pop3d,
// which log only through syslog, tagged "cyrus/SERVICE" (the service's name
// in cyrus.conf, e.g. imap, imaps, pop3, pop3s):
//
//   "... HOST cyrus/imap[4242]: login: client.example.org [192.0.2.1] alice
//    plaintext+TLS User logged in SESSIONID=<mx-4242-1764044738-1-123>"
//   "... HOST cyrus/pop3[17]: login: [2001:db8::5] bob PLAIN User logged in"
//
// The client's "[ADDRESS]" (after its reverse-DNS name, if any) comes before
// the user name, so nothing a user chooses can move it; a DNS name cannot
// hold '[' or a space. The user is what lies between the address and the
// mechanism before "User logged in". "badlogin: ..." lines are kRefused.
#ifndef RELAYSYNC_AGENT_CYRUS_LOG_PARSER_H_
#define RELAYSYNC_AGENT_CYRUS_LOG_PARSER_H_

#include "absl/strings/string_view.h"
#include "agent/log_line.h"

namespace relaysync {

// A LogFormat classifier (agent/log_format.h). NotALogin unless `program`
// is "cyrus/" followed by a service name starting with "imap" or "pop3"
// (letters and digits only).
LoginVerdict ClassifyCyrusMessage(absl::string_view program,
                                  absl::string_view message);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CYRUS_LOG_PARSER_H_
