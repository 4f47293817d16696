// EventSource that follows the systemd journal (libsystemd's sd_journal) for
// hosts where the mail daemon logs only there, and reports the logins in
// the entries of the mail daemon's own units, read with the same log
// formats as the log files (agent/log_format.h).
#ifndef RELAYSYNC_AGENT_JOURNAL_SOURCE_H_
#define RELAYSYNC_AGENT_JOURNAL_SOURCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/journal_state.h"
#include "agent/log_format.h"
#include "agent/session_tracker.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

typedef struct sd_journal sd_journal;

namespace relaysync {

// Trust: an entry counts only if journald itself recorded that a trusted
// process wrote it: its _SYSTEMD_UNIT (the sender's cgroup, which only root
// can place a process in) is one of `units`, or its _EXE (the sender's
// executable, from the kernel) is one of `executables`. Fields starting
// with '_' are set by journald and cannot be sent by a client.
// SYSLOG_IDENTIFIER is never a criterion (any local user can set it:
// logger -t dovecot), nor is _COMM (the sender's process name, which any
// user chooses by naming a copy of logger "dovecot"). Within a trusted
// entry, SYSLOG_IDENTIFIER (else _COMM) is the program name the log
// formats expect, and MESSAGE the message.
//
// Delivery is at-least-once, as LogTailer's: the saved cursor only moves
// past entries whose logins the sink has taken, so a crash may repeat up to
// one checkpoint interval of logins (the same address and login time: the
// store's merge makes that harmless) but never skips one; a clean Stop()
// saves the cursor of the last delivered entry, so a restart repeats
// nothing.
//
// Start position: with a saved cursor for the same journal, right after
// that entry. If the entry is gone (its file rotated away and vacuumed),
// at the first entry after its place: sd_journal orders by the sequence
// number within the same journal (rotation and vacuuming keep it), else by
// the wall-clock time, so nothing older is re-counted and nothing newer
// that is still there is lost; this is logged. With no cursor (first
// start, or a state of another journal or that sd_journal rejects), the
// END of the journal, so old history is not replayed, and that position
// is saved at once, so that logins while the agent is down are read at the
// next start.
//
// Bounds: only entries of the trusted units and executables are read
// (sd_journal matches, so a flood of other entries costs the index lookups
// only); at most `max_batch` logins per sink call and
// `max_entries_per_round` entries between stop checks and checkpoints. A
// login message over kMaxLoginLineBytes or with a control character is
// refused (logged, rate limited), as in a log file; journald itself caps
// an entry (LineMax=, 48 KiB by default, for stdout).
class JournalSource : public EventSource {
 public:
  struct Options {
    // Empty: the local system journal (system services only, this machine
    // only). Otherwise a directory of journal files, e.g. one written by
    // systemd-journal-remote.
    std::string directory;
    // _SYSTEMD_UNIT and _EXE values whose entries are believed (see Trust
    // above); at least one of them.
    std::vector<std::string> units;
    std::vector<std::string> executables;
    // Where the cursor is kept (JournalState), e.g. <spool
    // dir>/journal.state. Empty: no persistence; every start begins at the
    // end of the journal.
    std::string state_path;
    // The formats whose login messages count (--log-format); not owned,
    // from AllLogFormats().
    std::vector<const LogFormat*> formats = {FindLogFormat("dovecot")};
    // Upper bound on how long a missed inotify event delays a read, and on
    // how long Stop() takes.
    absl::Duration poll_interval = absl::Milliseconds(200);
    // While rounds read nothing, the reader seeks to its own place again
    // this often. libsystemd 252 can otherwise miss the last entry appended
    // as it reached the end: it records the file's entry count once the
    // entry is counted but before the entry is in the match's list, and
    // then skips the file until the count changes, that is until the next
    // entry of any unit. This bounds that delay.
    absl::Duration reseek_interval = absl::Seconds(1);
    // Save the cursor when this much time or this many entries have passed
    // since the last save (and on Stop).
    absl::Duration checkpoint_interval = absl::Milliseconds(200);
    size_t checkpoint_entries = 1000;
    size_t max_batch = 1000;
    size_t max_entries_per_round = 10000;
    // Clamps entry times in the future. Not owned; must outlive the source.
    const Clock* clock = SystemClock::Get();
    // Open sessions (login to end entry, keyed as the format says, with
    // _PID as the syslog PID) are refreshed by this tracker; not owned,
    // null for none.
    SessionTracker* sessions = nullptr;
  };

  // The units the journal source watches by default for `formats`: those
  // of the Debian packages (dovecot.service, courier-imap.service, ...,
  // cyrus-imapd.service). qpopper and UW-IMAP run from inetd and have none.
  static std::vector<std::string> DefaultUnits(
      const std::vector<const LogFormat*>& formats);
  // OK if `options` names at least one unit or executable, every unit is a
  // unit name ("NAME.TYPE", no '=' or space) and every executable an
  // absolute path; else an error saying which.
  static absl::Status Validate(const Options& options);

  explicit JournalSource(Options options);
  ~JournalSource() override;
  JournalSource(const JournalSource&) = delete;
  JournalSource& operator=(const JournalSource&) = delete;

  // Validates, opens the journal and positions the reader (on the source's
  // thread, as sd_journal wants, but before returning, so that entries
  // written after Start() returns are delivered); errors name the journal.
  // Logins carry source Name().
  absl::Status Start(Sink sink) override;
  void Stop() override;
  // "journal:system" or "journal:" + directory.
  std::string Name() const override;

  // Login messages of trusted entries refused as too long or holding a
  // control character.
  uint64_t refused_logins() const { return refused_logins_.load(); }

 private:
  // What the thread reports to Start().
  struct Opening {
    bool done = false;
    absl::Status status;
  };

  // The rest run on the source's thread.
  void Run();
  absl::Status Open();
  absl::Status AddMatches();
  void Position();
  bool SeekSaved(const JournalState& state);
  // Positions the reader on the entry of `cursor`, or if that is gone, on
  // the first entry after its place (or before nothing yet) and sets
  // unread_current_ accordingly. Returns whether the entry itself was
  // found, or libsystemd's error.
  absl::StatusOr<bool> SeekCursor(const std::string& cursor);
  // Seeks after committed_ again (Options::reseek_interval).
  void Reseek();
  void StartAtTail();
  void WaitForEvents();
  // Reads and delivers up to max_entries_per_round entries; sets `*more`
  // if it stopped before the end. Returns the number of entries read.
  size_t Round(bool* more);
  // Appends the login of the current entry, if it is a trusted one.
  void ReadEntry(std::vector<LocalLogin>* logins);
  bool Trusted();
  std::string CurrentCursor();
  void Checkpoint(bool force);
  void Refused(absl::string_view why, absl::string_view message);

  const Options options_;
  const std::string name_;
  const std::string journal_id_;  // JournalState::journal
  Sink sink_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_logins_{0};
  RateLimitedLog refused_log_{absl::Minutes(10)};  // Refused()
  RateLimitedLog trouble_log_{absl::Minutes(1)};   // read and save errors

  absl::Mutex mu_;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  Opening opening_ ABSL_GUARDED_BY(mu_);

  // Used only on the source's thread (Stop() touches wake_fd_ only).
  sd_journal* journal_ = nullptr;
  int journal_fd_ = -1;  // sd_journal's inotify descriptor
  int wake_fd_ = -1;     // eventfd: Stop() wakes the poll at once
  // The first entry to read is the current one (a saved cursor's entry was
  // gone and the seek landed on the next), not the one after it.
  bool unread_current_ = false;
  // The cursor of the last entry whose logins the sink has taken, and what
  // the state file holds.
  std::string committed_;
  std::string saved_;
  bool have_saved_ = false;
  size_t entries_since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_JOURNAL_SOURCE_H_
