// Recognizes qpopper's successful-login line, which it writes through syslog
// only (tagged with its program name: qpopper, in.qpopper or popper) when
// built to log logins:
//
//   "... HOST in.qpopper[7597]: (v4.0.9) POP login by user \"nick\" at
//    (client.example.org) 192.0.2.35 [pop_log.c:244]"
//
// The user name is quoted but not escaped, so it may hold a fake
// "\" at (x) 6.6.6.6": the address is taken from the end of the line,
// after the LAST "\" at (" (host name and address are the server's; the
// "[file.c:line]" suffix of debug builds is optional). "-ERR [AUTH] ..."
// lines (a wrong password, an expired account) are kRefused; the "Stats:"
// line qpopper writes when a session ends is not a login.
#ifndef RELAYSYNC_AGENT_QPOPPER_LOG_PARSER_H_
#define RELAYSYNC_AGENT_QPOPPER_LOG_PARSER_H_

#include "absl/strings/string_view.h"
#include "agent/log_line.h"

namespace relaysync {

// A LogFormat classifier (agent/log_format.h). NotALogin unless `program`
// is qpopper, in.qpopper or popper.
LoginVerdict ClassifyQpopperMessage(absl::string_view program,
                                    absl::string_view message);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_QPOPPER_LOG_PARSER_H_
