// Recognizes the successful-login lines of Courier-IMAP's imapd and pop3d
// (and their -ssl variants), which log only through syslog (courierlogger):
//
//   "... HOST imapd: LOGIN, user=alice, ip=[::ffff:192.0.2.1], port=[51234],
//    protocol=IMAP"
//   "... HOST pop3d-ssl[812]: LOGIN, user=bob, ip=[2001:db8::5], port=[3],
//    protocol=POP3, stls=1"
//
// Courier writes the user name unescaped, so it may hold a fake ", ip=[...]":
// the address is taken from the LAST ", ip=[" (what follows it, port and
// protocol, is the server's). "LOGIN FAILED, ..." lines are kRefused;
// LOGOUT, DISCONNECTED, TIMEOUT and Connection lines are not logins.
#ifndef RELAYSYNC_AGENT_COURIER_LOG_PARSER_H_
#define RELAYSYNC_AGENT_COURIER_LOG_PARSER_H_

#include "absl/strings/string_view.h"
#include "agent/log_line.h"

namespace relaysync {

// A LogFormat classifier (agent/log_format.h): `program` is the syslog tag
// without [pid]; NotALogin unless it is imapd, imapd-ssl, pop3d or
// pop3d-ssl.
LoginVerdict ClassifyCourierMessage(absl::string_view program,
                                    absl::string_view message);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_COURIER_LOG_PARSER_H_
