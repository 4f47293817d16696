// The grammar every mail daemon's log line shares (timestamps, the syslog
// "HOST PROGRAM[PID]: " prefix) and what one line says about a login or the
// end of its session (LoginVerdict). The per-daemon parsers
// (dovecot_log_parser.h, courier_log_parser.h, ...) build on it; log_format.h
// puts them together.
#ifndef RELAYSYNC_AGENT_LOG_LINE_H_
#define RELAYSYNC_AGENT_LOG_LINE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/local_login.h"

namespace relaysync {

// No daemon here logs more than 80-100 bytes of user name, so a real login
// line is a few hundred bytes. A longer one may have been cut by syslog
// (sysklogd cuts at 1024 bytes, rsyslog at its maxMessageSize), and a cut
// can remove the real address field and leave a fake one from the user
// name last: such lines are not believed.
inline constexpr size_t kMaxLoginLineBytes = 800;

// Whether `s` holds a control character (below 0x20, or DEL). Daemons write
// them as '?' (Dovecot) or not at all, and rsyslog escapes them ("#011"),
// so a line holding one was not written by either.
bool HasControlChars(absl::string_view s);

// What one log message says about a login.
struct LoginVerdict {
  enum class Kind {
    kNotALogin,  // another kind of line: most of every log
    kLogin,      // a successful POP3/IMAP login: `login` is set
    kRefused,    // looks like a login of the format, but does not count
    // The end of a POP3/IMAP session (logout, disconnection): `session` and
    // `login.user` are set, `login.address` where the line names it. It
    // grants nothing; it stops the refreshes of the session's login
    // (agent/session_tracker.h).
    kSessionEnd,
  };
  Kind kind = Kind::kNotALogin;
  // kLogin: a canonical address, a user of 1..kMaxTextField bytes and a
  // known protocol. The caller sets login_time and source.
  LocalLogin login;
  // kRefused: why, for an administrator ("failed login", "address not
  // valid: ...").
  std::string reason;
  // kLogin and kSessionEnd: what ties a login to the line that ends its
  // session, e.g. "dovecot session=<Oxv8BqVhfuZ/AAAB>"; empty if the line
  // names none (the login is then not tracked). Server-written fields only,
  // never the user name. ClassifyLogLine starts it with the format's name
  // and, for formats keyed by process (LogFormat::session_is_process), makes
  // it from the syslog PID.
  std::string session;

  static LoginVerdict NotALogin() { return LoginVerdict(); }
  static LoginVerdict Refused(std::string reason);
  // kLogin if `address_text` is an address (Address::Parse) and `user` is
  // 1..kMaxTextField bytes; kRefused saying which is wrong otherwise.
  static LoginVerdict Login(absl::string_view address_text,
                            absl::string_view user,
                            LocalLogin::Protocol protocol);
  // kSessionEnd of `user` (cut to kMaxTextField bytes), with `session` as
  // the message names it (empty for formats keyed by process).
  static LoginVerdict SessionEnd(absl::string_view user,
                                 absl::string_view session);
};

// Consumes a timestamp and the space after it:
//   classic (RFC 3164, Dovecot's log_timestamp): "Nov 25 04:25:38 " (the
//     day zero- or space-padded); it has no year: `now`'s year in `tz` is
//     used, or the previous year if that would put the line more than one
//     day in the future (a Dec 31 line read on Jan 1);
//   RFC 3339 (rsyslog's precise format): "2026-11-25T04:28:35.123+00:00 ".
// A time after `now` is clamped to it. Sets `*classic` to which it was.
// False (nothing consumed) for anything else, and for impossible dates.
bool ConsumeLogTimestamp(absl::string_view* s, absl::Time now,
                         absl::TimeZone tz, absl::Time* when, bool* classic);

// Consumes syslog's "HOST PROGRAM: " or "HOST PROGRAM[PID]: " and sets
// `program` (without the pid) and, if not null, `pid` (empty if none). The host
// is one non-empty token not ending in ':' (so "imap-login: " of Dovecot's own
// log is no host); the program is 1-64 of [A-Za-z0-9._/-] (Cyrus logs as
// "cyrus/imap"); the pid 1-10 digits. The tag is what the sender chose: any
// local user can send any (logger -t), which is why syslog-form lines are
// believed only when told (docs/security.md).
bool ConsumeSyslogHostAndProgram(absl::string_view* s,
                                 absl::string_view* program,
                                 absl::string_view* pid = nullptr);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOG_LINE_H_
