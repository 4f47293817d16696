// EventSource that tails a Dovecot log (its own log_path file, or a syslog
// file it writes to) and reports each successful POP3/IMAP login in it.
#ifndef RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_
#define RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/log_tailer.h"
#include "common/clock.h"

namespace relaysync {

class DovecotLogSource : public EventSource {
 public:
  struct Options {
    std::string log_path;
    // LogTailer's position file (e.g. <spool dir>/tail-dovecot.state).
    // Empty: no persistence.
    std::string state_path;
    // The zone of the year-less syslog timestamps: the host's.
    absl::TimeZone time_zone = absl::LocalTimeZone();
    // Supplies the year of syslog timestamps and clamps future times.
    // Not owned; must outlive the source.
    const Clock* clock = SystemClock::Get();
  };

  explicit DovecotLogSource(Options options);
  ~DovecotLogSource() override;

  // Logins carry source "log:" + log_path. Lines that are not successful
  // logins are skipped silently (they are most of the log).
  absl::Status Start(Sink sink) override;
  void Stop() override;
  std::string Name() const override;  // "log:" + log_path

 private:
  const Options options_;
  const std::string name_;
  LogTailer tailer_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_DOVECOT_LOG_SOURCE_H_
