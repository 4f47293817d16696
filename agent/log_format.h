// The log formats the agent reads logins (and the ends of their sessions)
// from, in one table: the name an administrator gives with --log-format, the
// programs whose syslog lines the format believes, and its parsers.
// ClassifyLogLine is the one entry point for the log source and
// `relaysync-agent test-log`.
#ifndef RELAYSYNC_AGENT_LOG_FORMAT_H_
#define RELAYSYNC_AGENT_LOG_FORMAT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "agent/log_line.h"

namespace relaysync {

// Where a line came from, as far as its form tells. Only a daemon writes
// its own log file; any local user can write a syslog line with any tag.
enum class LogLineForm { kOwnLog, kSyslog };

struct LogFormat {
  // The --log-format spelling: "dovecot", "courier", ...
  absl::string_view name;
  // For messages and docs: "imapd, imapd-ssl, pop3d, pop3d-ssl".
  absl::string_view programs;
  // Classifies the message of a syslog line whose tag is `program` (without
  // its [pid]); `message` is what follows "PROGRAM[PID]: ". NotALogin for
  // any program not in `programs`. A journald reader can call it with
  // SYSLOG_IDENTIFIER and MESSAGE.
  LoginVerdict (*classify)(absl::string_view program,
                           absl::string_view message);
  // Null unless the daemon can write a log file of its own (Dovecot's
  // log_path). Given what follows a classic timestamp, returns nullopt if
  // the text is not in that file's form, else the verdict.
  std::optional<LoginVerdict> (*classify_own_log)(absl::string_view rest);
  // Whether a session is known by the daemon's process id (one process
  // per connection: UW-IMAP), rather than by fields of the message.
  bool session_is_process;
};

// Every format, in the order `auto` tries them.
absl::Span<const LogFormat> AllLogFormats();
// The format named `name`, or null.
const LogFormat* FindLogFormat(absl::string_view name);
// The --log-format flag: one name, or "auto" for every format. Errors list
// the names.
absl::StatusOr<std::vector<const LogFormat*>> LogFormatsFromFlag(
    absl::string_view flag);
// "dovecot|courier|cyrus|qpopper|uw-imap|auto": for usage messages.
std::string LogFormatFlagValues();

// Completes `verdict->session` for a kLogin or kSessionEnd of `format`:
// made from `pid` (the syslog PID, or journald's _PID; empty: unknown) when
// the format's sessions are processes, then prefixed with the format's
// name, so that keys of different formats never meet. A kSessionEnd left
// without a key ends nothing and becomes kNotALogin. ClassifyLogLine calls
// it; a journald reader calls it after `classify`.
void CompleteSessionKey(const LogFormat& format, absl::string_view pid,
                        LoginVerdict* verdict);

struct LogLineVerdict {
  // kLogin: login_time from the line's stamp, source "log" (callers that
  // know the file name replace it). kSessionEnd: login_time likewise.
  LoginVerdict verdict;
  // kLogin, kSessionEnd and kRefused: the format that recognized the line,
  // and the form.
  const LogFormat* format = nullptr;
  LogLineForm form = LogLineForm::kSyslog;
};

// What `line` (without its newline; one trailing '\r' is ignored) says
// about a login, tried against each of `formats` in order; the first that
// recognizes it decides. Every format is anchored: the line must start with
// a timestamp (ConsumeLogTimestamp), then either the daemon's own-log form
// or syslog's "HOST PROGRAM[PID]: " with one of the format's programs, then
// the daemon's login message. A recognized login or session end is refused
// when the line is over kMaxLoginLineBytes or holds a control character.
LogLineVerdict ClassifyLogLine(absl::string_view line,
                               absl::Span<const LogFormat* const> formats,
                               absl::Time now, absl::TimeZone tz);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOG_FORMAT_H_
