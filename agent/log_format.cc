#include "agent/log_format.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/courier_log_parser.h"
#include "agent/cyrus_log_parser.h"
#include "agent/dovecot_log_parser.h"
#include "agent/qpopper_log_parser.h"
#include "agent/uw_imap_log_parser.h"

namespace relaysync {
namespace {

constexpr LogFormat kFormats[] = {
    {"dovecot", "dovecot", ClassifyDovecotMessage, ClassifyDovecotOwnLog,
     false},
    {"courier", "imapd, imapd-ssl, pop3d, pop3d-ssl", ClassifyCourierMessage,
     nullptr, false},
    {"cyrus", "cyrus/imap, cyrus/imaps, cyrus/pop3, cyrus/pop3s",
     ClassifyCyrusMessage, nullptr, false},
    {"qpopper", "qpopper, in.qpopper, popper", ClassifyQpopperMessage, nullptr,
     false},
    {"uw-imap", "imapd, ipop3d", ClassifyUwImapMessage, nullptr, true},
};

// The line-wide rules, checked once a format recognized a login or the end
// of a session.
LoginVerdict CheckWholeLine(absl::string_view line, LoginVerdict verdict) {
  if (verdict.kind != LoginVerdict::Kind::kLogin &&
      verdict.kind != LoginVerdict::Kind::kSessionEnd) {
    return verdict;
  }
  if (line.size() > kMaxLoginLineBytes) {
    return LoginVerdict::Refused(
        absl::StrCat("line over ", kMaxLoginLineBytes,
                     " bytes: syslog may have cut off its real end"));
  }
  if (HasControlChars(line)) {
    return LoginVerdict::Refused(
        "control character in the line: neither the daemon nor syslog "
        "writes one");
  }
  return verdict;
}

}  // namespace

absl::Span<const LogFormat> AllLogFormats() { return kFormats; }

const LogFormat* FindLogFormat(absl::string_view name) {
  for (const LogFormat& f : kFormats) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string LogFormatFlagValues() {
  std::string out;
  for (const LogFormat& f : kFormats) absl::StrAppend(&out, f.name, "|");
  return out + "auto";
}

absl::StatusOr<std::vector<const LogFormat*>> LogFormatsFromFlag(
    absl::string_view flag) {
  std::vector<const LogFormat*> formats;
  if (flag == "auto") {
    for (const LogFormat& f : kFormats) formats.push_back(&f);
  } else if (const LogFormat* f = FindLogFormat(flag)) {
    formats.push_back(f);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log format \"", flag, "\": ", LogFormatFlagValues()));
  }
  return formats;
}

void CompleteSessionKey(const LogFormat& format, absl::string_view pid,
                        LoginVerdict* verdict) {
  if (verdict->kind != LoginVerdict::Kind::kLogin &&
      verdict->kind != LoginVerdict::Kind::kSessionEnd) {
    return;
  }
  if (format.session_is_process) {
    verdict->session = pid.empty() ? "" : absl::StrCat("pid=", pid);
  }
  if (!verdict->session.empty()) {
    verdict->session = absl::StrCat(format.name, " ", verdict->session);
  } else if (verdict->kind == LoginVerdict::Kind::kSessionEnd) {
    *verdict = LoginVerdict::NotALogin();
  }
}

LogLineVerdict ClassifyLogLine(absl::string_view line,
                               absl::Span<const LogFormat* const> formats,
                               absl::Time now, absl::TimeZone tz) {
  absl::ConsumeSuffix(&line, "\r");
  LogLineVerdict out;
  absl::string_view s = line;
  absl::Time when;
  bool classic = false;
  if (!ConsumeLogTimestamp(&s, now, tz, &when, &classic)) return out;
  // A daemon's own log file has no host or program name; its stamp is the
  // classic one.
  for (const LogFormat* f : formats) {
    if (!classic || f->classify_own_log == nullptr) continue;
    if (std::optional<LoginVerdict> v = f->classify_own_log(s)) {
      out.verdict = std::move(*v);
      out.format = f;
      out.form = LogLineForm::kOwnLog;
      break;
    }
  }
  absl::string_view program, pid;
  if (out.format == nullptr &&
      ConsumeSyslogHostAndProgram(&s, &program, &pid)) {
    for (const LogFormat* f : formats) {
      LoginVerdict v = f->classify(program, s);
      if (v.kind == LoginVerdict::Kind::kNotALogin) continue;
      out.verdict = std::move(v);
      out.format = f;
      out.form = LogLineForm::kSyslog;
      break;
    }
  }
  if (out.verdict.kind == LoginVerdict::Kind::kNotALogin) {
    out.format = nullptr;
    return out;
  }
  CompleteSessionKey(*out.format, pid, &out.verdict);
  if (out.verdict.kind == LoginVerdict::Kind::kNotALogin) {
    out.format = nullptr;
    return out;
  }
  out.verdict = CheckWholeLine(line, std::move(out.verdict));
  if (out.verdict.kind == LoginVerdict::Kind::kLogin ||
      out.verdict.kind == LoginVerdict::Kind::kSessionEnd) {
    out.verdict.login.login_time = absl::ToUnixSeconds(when);
    out.verdict.login.source = "log";
  }
  return out;
}

}  // namespace relaysync
