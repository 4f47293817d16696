#include "agent/dovecot_log_source.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace relaysync {
namespace {

LogTailer::Options TailerOptions(const DovecotLogSource::Options& options) {
  LogTailer::Options tail;
  tail.path = options.log_path;
  tail.state_path = options.state_path;
  tail.refuse_writable_by_others = true;
  return tail;
}

}  // namespace

DovecotLogSource::DovecotLogSource(Options options)
    : options_(std::move(options)),
      name_("log:" + options_.log_path),
      tailer_(TailerOptions(options_)) {}

DovecotLogSource::~DovecotLogSource() { Stop(); }

absl::Status DovecotLogSource::Start(Sink sink) {
  return tailer_.Start([this, sink = std::move(sink)](absl::string_view line) {
    LogLineVerdict v = ClassifyLogLine(
        line, options_.formats, options_.clock->Now(), options_.time_zone);
    const bool end = v.verdict.kind == LoginVerdict::Kind::kSessionEnd;
    if (v.verdict.kind != LoginVerdict::Kind::kLogin && !end) return;
    LocalLogin& login = v.verdict.login;
    if (v.form == LogLineForm::kSyslog && !options_.trust_syslog) {
      if (!end) Untrusted(*v.format, login);
      return;
    }
    if (end) {
      if (options_.sessions != nullptr) {
        options_.sessions->End(name_, v.verdict.session, login.user);
      }
      return;
    }
    login.source = name_;
    // Its first refresh is an interval away: the login goes first in any
    // case.
    if (options_.sessions != nullptr) {
      options_.sessions->Begin(name_, v.verdict.session, login);
    }
    // One at a time: the tailer may save its offset after any line. A spool
    // failure is the agent's to log; the line is applied locally anyway.
    sink({std::move(login)}).IgnoreError();
  });
}

void DovecotLogSource::Untrusted(const LogFormat& format,
                                 const LocalLogin& login) {
  uint64_t count = ++untrusted_logins_;
  untrusted_log_.Log(
      LogLevel::kWarning,
      absl::StrCat(
          "log ", options_.log_path, ": ignored a syslog-form login (",
          format.name, ", user <", absl::CHexEscape(login.user), "> from ",
          login.address,
          "): any local user can write syslog lines with any tag, so they "
          "grant nothing. Point --watch-log at Dovecot's own log_path, or "
          "accept the risk with --watch-syslog (",
          count, " ignored so far)"));
}

void DovecotLogSource::Stop() { tailer_.Stop(); }

std::string DovecotLogSource::Name() const { return name_; }

}  // namespace relaysync
