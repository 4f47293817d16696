// EventSource that tails a mail daemon's log (Dovecot's own log_path file,
// or, when told to trust it, a syslog file) and reports each successful
// POP3/IMAP login in it, in the formats it is given (agent/log_format.h),
// and tells a SessionTracker which sessions are open.
#ifndef RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_
#define RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/log_format.h"
#include "agent/log_tailer.h"
#include "agent/session_tracker.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

class DovecotLogSource : public EventSource {
 public:
  struct Options {
    std::string log_path;
    // LogTailer's position file (e.g. <spool dir>/tail-dovecot.state).
    // Empty: no persistence.
    std::string state_path;
    // The formats whose login lines count (--log-format); not owned, from
    // AllLogFormats().
    std::vector<const LogFormat*> formats = {FindLogFormat("dovecot")};
    // Whether login lines in syslog form ("HOST dovecot[PID]: imap-login:
    // ...", and every line of the daemons that log only to syslog) are
    // believed. Any local user can write such a line with any tag (logger -t
    // dovecot), so by default only lines in the form of Dovecot's own
    // log_path file are; syslog-form logins are counted, logged (rate
    // limited) and dropped.
    bool trust_syslog = false;
    // The zone of the year-less syslog timestamps: the host's.
    absl::TimeZone time_zone = absl::LocalTimeZone();
    // Supplies the year of syslog timestamps and clamps future times.
    // Not owned; must outlive the source.
    const Clock* clock = SystemClock::Get();
    // Told of each counted login that names a session, and of each session
    // end line (in the forms believed, as logins); null: sessions are not
    // tracked. Not owned; must outlive the source.
    SessionTracker* sessions = nullptr;
  };

  explicit DovecotLogSource(Options options);
  ~DovecotLogSource() override;

  // Logins carry source "log:" + log_path. Lines that are not successful
  // logins are skipped silently (they are most of the log). Fails, naming
  // the file, if the log is writable by users other than its owner.
  absl::Status Start(Sink sink) override;
  void Stop() override;
  std::string Name() const override;  // "log:" + log_path

  // Bytes of the log not read yet (LogTailer::LagBytes); thread-safe.
  int64_t LagBytes() const { return tailer_.LagBytes(); }
  const std::string& log_path() const { return options_.log_path; }

  // Syslog-form login lines dropped because trust_syslog is off.
  uint64_t untrusted_logins() const { return untrusted_logins_.load(); }

 private:
  void Untrusted(const LogFormat& format, const LocalLogin& login);

  const Options options_;
  const std::string name_;
  LogTailer tailer_;
  std::atomic<uint64_t> untrusted_logins_{0};
  RateLimitedLog untrusted_log_{absl::Minutes(10)};
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_
