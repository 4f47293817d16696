// Recognizes Dovecot's "successful login" log lines, in Dovecot's own log file
// and as forwarded by syslog, and nothing else: log text is partly
// attacker-controlled (user names), so the parser is strictly anchored.
#ifndef RELAYSYNC_AGENT_DOVECOT_LOG_PARSER_H_
#define RELAYSYNC_AGENT_DOVECOT_LOG_PARSER_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/local_login.h"
#include "agent/log_format.h"
#include "agent/log_line.h"

namespace relaysync {

// Returns the login described by `line` (without its newline; one trailing
// '\r' is ignored), or nullopt if the line is not a successful Dovecot
// POP3/IMAP login. Accepted forms, anchored at the start of the line:
//
//   Dovecot's log_path:  "MMM DD HH:MM:SS imap-login: Info: Login: user=<U>, "
//   syslog:              "MMM DD HH:MM:SS HOST dovecot[PID]: pop3-login: "
//                        "[Info: ]Login: user=<U>, "
//   rsyslog precise:     "2026-11-25T04:28:35.123456+00:00 HOST dovecot: ..."
//
// followed by "method=M, rip=IP, lip=IP" and then "," or the end of line.
// The user name may contain anything, including a fake "method=..., rip=..."
// tail, so the fields are taken after the LAST ">, method=" (everything after
// the real user field is server-generated). User names over
// kMaxTextField and lines over kMaxLoginLineBytes are refused: Dovecot logs
// at most 80 bytes of user name, and a line long enough to have been cut by
// syslog might have lost its real tail, leaving a fake one last. Lines with
// a control character (NUL, tab, DEL, ...) are refused: neither Dovecot nor
// rsyslog writes one raw.
//
// Time: as ConsumeLogTimestamp (agent/log_line.h): RFC 3339 stamps are
// absolute, classic ones get the year that is not in the future, and a
// time still in the future is clamped to `now`.
//
// Sets source to "log"; callers that know the file name replace it.
//
// Trust: only Dovecot writes its own log_path, but any local user can send
// a syslog line with any tag (`logger -t dovecot ...`). When `form` is not
// null it receives the form of a recognized line, so that callers can
// refuse the syslog form unless told to trust it.
using DovecotLineForm = LogLineForm;
std::optional<LocalLogin> ParseDovecotLoginLine(
    absl::string_view line, absl::Time now, absl::TimeZone tz,
    DovecotLineForm* form = nullptr);

// The parts of the above that the "dovecot" LogFormat is made of
// (agent/log_format.h). A message of program "dovecot": "imap-login: "
// or "pop3-login: ", an optional "Info: ", then the login. Failed logins
// ("... (auth failed, N attempts ...)") are kRefused.
LoginVerdict ClassifyDovecotMessage(absl::string_view program,
                                    absl::string_view message);
// What follows the timestamp in Dovecot's own log file: "imap-login: " or
// "pop3-login: " (else nullopt), then "Info: " and the login.
std::optional<LoginVerdict> ClassifyDovecotOwnLog(absl::string_view rest);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_DOVECOT_LOG_PARSER_H_
