// SessionTracker: keeps the relay grant of an open POP3/IMAP session alive.
// A log source tells it when a login opens a session and when a line ends
// one; while a session is open, it reports a fresh login for its address
// every refresh interval, through the same sink every login takes (spool,
// map, coordinator, every agent), so that a client in IMAP IDLE for longer
// than the coordinator's --expire-after keeps relaying (docs/operations.md,
// "Long IMAP sessions").
#ifndef RELAYSYNC_AGENT_SESSION_TRACKER_H_
#define RELAYSYNC_AGENT_SESSION_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/local_login.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

// An EventSource whose events are refreshes. Thread-safe: Begin() and End()
// come from the log sources' threads, refreshes from the tracker's own.
//
// Trust. The log is written by local daemons, but parts of a line (user
// names, mailbox names) come from clients, so the tracker assumes an end
// line may be forged or ambiguous and makes the grant the hard thing to
// extend:
//  - only a login that counted (the source already believed it) opens a
//    session; an end line can only end one;
//  - an end must name the session's key and the same user as its login;
//  - a session is refreshed for at most max_age after its login, whether
//    or not its end is seen (a lost end line, a crashed daemon, a changed
//    log prefix), and then dropped with a warning;
//  - at most max_sessions are open: beyond, the oldest login is dropped
//    (its grant then lasts --expire-after from its last refresh, as
//    without tracking), logged once a minute;
//  - sessions live in memory only: after an agent restart the sessions
//    opened before it are not refreshed (the log is read on from its saved
//    offset, so their logins are not seen again).
// Times are wall-clock (Clock), as the ticks that the coordinator and the
// map compare with it; a clock step moves refreshes and max_age with it.
class SessionTracker : public EventSource {
 public:
  struct Options {
    // How often an open session's grant is renewed. Zero: a third of the
    // expiry policy (`expire_after` below), at least 1 s; kDefaultRefresh
    // while the policy is unknown or "never".
    absl::Duration refresh = absl::ZeroDuration();
    // The coordinator's --expire-after as this agent last heard it (zero:
    // unknown or never), for the automatic refresh. Null: unknown.
    std::function<absl::Duration()> expire_after;
    // Bounds; zero max_sessions tracks nothing.
    size_t max_sessions = kDefaultMaxSessions;
    absl::Duration max_age = kDefaultMaxAge;
    // Not owned; must outlive the tracker.
    const Clock* clock = SystemClock::Get();
  };
  static constexpr size_t kDefaultMaxSessions = 10000;
  static constexpr absl::Duration kDefaultMaxAge = absl::Hours(12);
  static constexpr absl::Duration kDefaultRefresh = absl::Minutes(10);
  // The longest the thread sleeps: a policy change is seen within it.
  static constexpr absl::Duration kMaxWait = absl::Seconds(1);

  explicit SessionTracker(Options options);
  ~SessionTracker() override;  // Stop()

  // `source` (the log's Name()) scopes `key`, so two logs never share a
  // session. A key already open is replaced: the daemon gives a live key
  // to one connection only, so its earlier session has ended unseen. An
  // empty key, or a login older than max_age, opens nothing. Returns
  // whether a session was opened.
  bool Begin(absl::string_view source, absl::string_view key,
             const LocalLogin& login);
  // Ends the session `key` of `source` if its login's user is `user`.
  // Returns whether one ended.
  bool End(absl::string_view source, absl::string_view key,
           absl::string_view user);

  // Starts the refresh thread; refreshes go to `sink` as logins with the
  // current time, the session's address, user and protocol, and source
  // "session:" + the login's source, at most one per address per pass.
  absl::Status Start(Sink sink) override;
  void Stop() override;
  std::string Name() const override;  // "sessions"

  // One pass at the clock's time: drops sessions past max_age, returns the
  // refreshes that are due (and counts them as sent). For the thread and
  // for tests; needs no Start().
  std::vector<LocalLogin> TakeDue();
  // The refresh interval in force now.
  absl::Duration RefreshInterval() const;
  size_t open_sessions() const;

 private:
  struct Session {
    LocalLogin login;      // as the source reported it
    absl::Time opened;     // the login's time
    absl::Time refreshed;  // when last renewed (or its login was read)
  };
  using Key = std::pair<std::string, std::string>;  // source, key

  void Loop(Sink sink);
  // Drops the session opened first (the bound is reached).
  void DropOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  RateLimitedLog full_log_{absl::Minutes(1)};
  RateLimitedLog aged_log_{absl::Minutes(10)};

  mutable absl::Mutex mu_;
  std::map<Key, Session> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_full_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // Start() and Stop() only, on the owner's thread
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SESSION_TRACKER_H_
