#include "agent/session_tracker.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/thread_name.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {

SessionTracker::SessionTracker(Options options)
    : options_(std::move(options)) {}

SessionTracker::~SessionTracker() { Stop(); }

std::string SessionTracker::Name() const { return "sessions"; }

absl::Duration SessionTracker::RefreshInterval() const {
  if (options_.refresh > absl::ZeroDuration()) return options_.refresh;
  const absl::Duration expire_after =
      options_.expire_after ? options_.expire_after() : absl::ZeroDuration();
  if (expire_after <= absl::ZeroDuration()) return kDefaultRefresh;
  return std::max(expire_after / 3, absl::Seconds(1));
}

size_t SessionTracker::open_sessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

bool SessionTracker::Begin(absl::string_view source, absl::string_view key,
                           const LocalLogin& login) {
  if (key.empty() || options_.max_sessions == 0) return false;
  const absl::Time now = options_.clock->Now();
  const absl::Time opened = absl::FromUnixSeconds(login.login_time);
  if (now - opened >= options_.max_age) return false;
  absl::MutexLock lock(&mu_);
  Key k{std::string(source), std::string(key)};
  auto it = sessions_.find(k);
  if (it == sessions_.end() && sessions_.size() >= options_.max_sessions) {
    DropOldestLocked();
  }
  // The login itself was just reported: the first refresh is one interval
  // after it was read. Not after its stamp: a login read late (a backlog
  // after an agent restart) is refreshed only if its end line, which
  // follows it in the same backlog, has not come within the interval.
  sessions_[std::move(k)] = Session{login, opened, now};
  return true;
}

bool SessionTracker::End(absl::string_view source, absl::string_view key,
                         absl::string_view user) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(Key(std::string(source), std::string(key)));
  if (it == sessions_.end() || it->second.login.user != user) return false;
  sessions_.erase(it);
  return true;
}

void SessionTracker::DropOldestLocked() {
  auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                 [](const auto& a, const auto& b) {
                                   return a.second.opened < b.second.opened;
                                 });
  if (oldest == sessions_.end()) return;
  const LocalLogin login = oldest->second.login;
  sessions_.erase(oldest);
  ++dropped_full_;
  full_log_.Log(
      LogLevel::kWarning,
      absl::StrCat("sessions: ", options_.max_sessions,
                   " open sessions (--max-sessions): stopped refreshing the "
                   "oldest (user <",
                   absl::CHexEscape(login.user), "> from ", login.address,
                   "), whose grant now ends --expire-after after its last "
                   "refresh; ",
                   dropped_full_, " dropped so far"));
}

std::vector<LocalLogin> SessionTracker::TakeDue() {
  const absl::Time now = options_.clock->Now();
  const absl::Duration interval = RefreshInterval();
  std::vector<LocalLogin> due;
  std::set<std::string> addresses;
  absl::MutexLock lock(&mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    Session& s = it->second;
    if (now - s.opened >= options_.max_age) {
      aged_log_.Log(
          LogLevel::kWarning,
          absl::StrCat("sessions: ", it->first.first,
                       ": no end seen for session ",
                       absl::CHexEscape(it->first.second), " of user <",
                       absl::CHexEscape(s.login.user), "> from ",
                       s.login.address, " within --max-session-age=",
                       absl::FormatDuration(options_.max_age),
                       "; no longer refreshed. If this repeats, the daemon's "
                       "end lines are not recognized (check them with "
                       "`relaysync-agent test-log`)"));
      it = sessions_.erase(it);
      continue;
    }
    if (now - s.refreshed >= interval) {
      s.refreshed = now;
      if (addresses.insert(s.login.address).second) {
        LocalLogin refresh = s.login;
        refresh.login_time = absl::ToUnixSeconds(now);
        refresh.source =
            absl::StrCat("session:", s.login.source).substr(0, kMaxTextField);
        due.push_back(std::move(refresh));
      }
    }
    ++it;
  }
  return due;
}

absl::Status SessionTracker::Start(Sink sink) {
  absl::MutexLock lock(&mu_);
  stopping_ = false;
  thread_ = std::thread([this, sink = std::move(sink)] {
    NameThisThread("sessions");
    Loop(sink);
  });
  return absl::OkStatus();
}

void SessionTracker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void SessionTracker::Loop(Sink sink) {
  for (;;) {
    std::vector<LocalLogin> due = TakeDue();
    // A spool failure is the agent's to log; the next refresh tries again.
    if (!due.empty()) sink(due).IgnoreError();
    const absl::Duration wait = std::min(RefreshInterval() / 4, kMaxWait);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
    if (stopping_) return;
  }
}

}  // namespace relaysync
