#include "agent/test_log.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace relaysync {
namespace {

struct Counts {
  uint64_t lines = 0;
  uint64_t own_log = 0;
  uint64_t syslog = 0;
  uint64_t refused = 0;
  uint64_t session_ends = 0;
};

// " (FORMAT, own log: ...)" or " (FORMAT, syslog form: ...)".
std::string FormAndTrust(const LogLineVerdict& v, absl::string_view what) {
  return absl::StrCat(
      " (", v.format->name, ", ",
      v.form == LogLineForm::kOwnLog
          ? absl::StrCat("own log: ", what,
                         " under --watch-log or --watch-syslog")
          : absl::StrCat("syslog form: ", what, " only under --watch-syslog"),
      ")");
}

// One line's report, or nothing for a line that is not a login.
void Report(uint64_t number, absl::string_view line,
            const TestLogOptions& options, Counts* counts, std::ostream& out) {
  LogLineVerdict v =
      ClassifyLogLine(line, options.formats, options.now, options.time_zone);
  if (v.verdict.kind == LoginVerdict::Kind::kLogin) {
    absl::Status never = options.never_relay.Check(v.verdict.login.address);
    if (!never.ok()) {
      v.verdict = LoginVerdict::Refused(std::string(never.message()));
    }
  }
  switch (v.verdict.kind) {
    case LoginVerdict::Kind::kNotALogin:
      return;
    case LoginVerdict::Kind::kRefused:
      ++counts->refused;
      out << number << ": refused (" << v.format->name
          << "): " << v.verdict.reason << "\n";
      return;
    case LoginVerdict::Kind::kSessionEnd:
      ++counts->session_ends;
      out << number << ": session end user \""
          << absl::CHexEscape(v.verdict.login.user) << "\" session \""
          << absl::CHexEscape(v.verdict.session) << "\""
          << FormAndTrust(v, "ends it") << "\n";
      return;
    case LoginVerdict::Kind::kLogin:
      break;
  }
  const LocalLogin& login = v.verdict.login;
  const bool own = v.form == LogLineForm::kOwnLog;
  ++(own ? counts->own_log : counts->syslog);
  out << number << ": login " << login.address << " user \""
      << absl::CHexEscape(login.user) << "\" " << ProtocolName(login.protocol)
      << " at "
      << absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez",
                          absl::FromUnixSeconds(login.login_time),
                          options.time_zone)
      << FormAndTrust(v, "counts");
  // Whether the login opens a session that the agent keeps refreshing
  // until its end line (agent/session_tracker.h).
  if (v.verdict.session.empty()) {
    out << ", no session key: lasts --expire-after\n";
  } else {
    out << ", session \"" << absl::CHexEscape(v.verdict.session) << "\"\n";
  }
}

}  // namespace

absl::Status TestLogFile(const std::string& path, const TestLogOptions& options,
                         std::ostream& out) {
  const bool stdin_input = path == "-";
  FILE* f = stdin_input ? stdin : std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  int e = 0;
  if (fstat(fileno(f), &st) != 0) {
    e = errno;
  } else if (S_ISDIR(st.st_mode)) {
    e = EISDIR;
  }
  if (e != 0) {
    if (!stdin_input) std::fclose(f);
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot read: ", std::strerror(e)));
  }
  Counts counts;
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  errno = 0;
  while ((n = getline(&buf, &cap, f)) >= 0) {
    absl::string_view line(buf, static_cast<size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    Report(++counts.lines, line, options, &counts, out);
  }
  const int read_errno = std::ferror(f) ? errno : 0;
  std::free(buf);
  if (!stdin_input) std::fclose(f);
  const uint64_t logins = counts.own_log + counts.syslog;
  out << (stdin_input ? "(stdin)" : path) << ": " << counts.lines << " lines, "
      << logins << " logins (" << counts.own_log << " own log, "
      << counts.syslog << " syslog form), " << counts.refused << " refused, "
      << counts.session_ends << " session ends\n";
  if (read_errno != 0) {
    return absl::DataLossError(absl::StrCat(path, ": read error after line ",
                                            counts.lines, ": ",
                                            std::strerror(read_errno)));
  }
  return absl::OkStatus();
}

}  // namespace relaysync
