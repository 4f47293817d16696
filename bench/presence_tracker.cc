#include "bench/presence_tracker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/bench_cluster.h"

namespace relaysync::bench {
namespace {

// A RelayersDb writer closes the descriptor that holds its flock after the
// sync and the mtime bump: one IN_CLOSE_WRITE per write, when the change has
// become readable. Waking on its page writes (IN_MODIFY) or the mtime bump
// (IN_ATTRIB) as well only made rounds that wait for its lock and then see
// the same state again.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE;
// With no event for this long, look anyway (a safety net; never needed when
// inotify works).
constexpr int kQuietPollMs = 20;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PresenceTracker>> PresenceTracker::Start(
    const std::vector<std::string>& maps) {
  std::unique_ptr<PresenceTracker> t(new PresenceTracker());
  t->maps_.resize(maps.size());
  for (size_t i = 0; i < maps.size(); ++i) {
    Map& m = t->maps_[i];
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(maps[i], RelayersDb::Mode::kReadOnly);
    if (!db.ok()) return db.status();
    m.reader = std::move(*db);
    m.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m.inotify_fd < 0) return ErrnoError("inotify_init1 for", maps[i]);
    if (inotify_add_watch(m.inotify_fd, maps[i].c_str(), kWatchMask) < 0) {
      return ErrnoError("inotify_add_watch", maps[i]);
    }
    m.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m.wake_fd < 0) return ErrnoError("eventfd for", maps[i]);
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    t->threads_.emplace_back([p = t.get(), i] { p->Watch(i); });
  }
  return t;
}

PresenceTracker::~PresenceTracker() {
  Stop();
  for (Map& m : maps_) {
    if (m.inotify_fd >= 0) close(m.inotify_fd);
    if (m.wake_fd >= 0) close(m.wake_fd);
  }
}

void PresenceTracker::Stop() {
  stop_ = true;
  for (Map& m : maps_) Poke(m.wake_fd);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void PresenceTracker::Poke(int fd) {
  const uint64_t one = 1;
  if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
    // EAGAIN: the counter is saturated, so a wake-up is pending anyway.
  }
}

size_t PresenceTracker::Expect(std::string key, int64_t sent_ns, int origin) {
  std::lock_guard<std::mutex> l(mu_);
  const size_t index = expected_.size();
  index_.emplace(key, index);
  expected_.push_back(Expected{std::move(key), sent_ns, origin, 0,
                               std::vector<int64_t>(maps_.size(), 0)});
  unseen_.push_back(maps_.size());
  maps_[origin].own.push_back(index);
  return index;
}

void PresenceTracker::Merged(const std::string& key) {
  const int64_t now = MonoNanos();
  std::vector<int> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    Expected& e = expected_[it->second];
    if (e.merged_ns != 0) return;
    e.merged_ns = now;
    for (size_t m = 0; m < maps_.size(); ++m) {
      if (static_cast<int>(m) == e.origin) continue;
      // The agent may have written the key before the map's thread learned
      // of it, so that no inotify event will follow. Behind an older key
      // that is still missing it cannot be in the map yet, and a key added
      // during a round is caught by the round's rescan (Watch).
      if (maps_[m].remote.empty()) wake.push_back(maps_[m].wake_fd);
      maps_[m].remote.push_back(it->second);
    }
  }
  for (int fd : wake) Poke(fd);
}

bool PresenceTracker::AllSeen(size_t count) {
  std::lock_guard<std::mutex> l(mu_);
  return first_unseen_ >= count;
}

size_t PresenceTracker::Outstanding() {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (size_t i = first_unseen_; i < unseen_.size(); ++i) n += unseen_[i] > 0;
  return n;
}

size_t PresenceTracker::ExpectedCount() {
  std::lock_guard<std::mutex> l(mu_);
  return expected_.size();
}

PresenceTracker::Stats PresenceTracker::stats() const {
  Stats total;
  for (const Map& m : maps_) {
    total.rounds += m.stats.rounds;
    total.quiet_rounds += m.stats.quiet_rounds;
    total.gets += m.stats.gets;
    total.get_errors += m.stats.get_errors;
    total.get_ns += m.stats.get_ns;
  }
  return total;
}

void PresenceTracker::Watch(size_t map) {
  Map& m = maps_[map];
  while (!stop_) {
    if (!WaitForChange(m, kQuietPollMs)) ++m.stats.quiet_rounds;
    if (stop_) return;
    ++m.stats.rounds;
    // If a scan found everything it looked at, keys queued meanwhile may be
    // present too, with no event to come: look again.
    for (int scans = 0; scans < 100 && !stop_; ++scans) {
      const bool own_more = Scan(map, &m.own) && QueueSize(m.own) > 0;
      const bool remote_more = Scan(map, &m.remote) && QueueSize(m.remote) > 0;
      if (!own_more && !remote_more) break;
    }
  }
}

size_t PresenceTracker::QueueSize(const std::deque<size_t>& queue) {
  std::lock_guard<std::mutex> l(mu_);
  return queue.size();
}

bool PresenceTracker::WaitForChange(Map& map, int timeout_ms) {
  struct pollfd pfd[2] = {{map.inotify_fd, POLLIN, 0},
                          {map.wake_fd, POLLIN, 0}};
  if (poll(pfd, 2, timeout_ms) <= 0) return false;
  // Only "something changed" matters: drain both (IN_Q_OVERFLOW included).
  alignas(struct inotify_event) char buf[16 * 1024];
  for (int reads = 0; reads < 64; ++reads) {
    if (read(map.inotify_fd, buf, sizeof(buf)) <= 0) break;  // EAGAIN: drained
  }
  uint64_t count;
  if (read(map.wake_fd, &count, sizeof(count)) < 0) {
    // EAGAIN: no wake-up was pending.
  }
  return true;
}

int64_t PresenceTracker::Present(size_t map, std::deque<size_t>* queue,
                                 size_t position) {
  Map& m = maps_[map];
  std::string key;
  {
    std::lock_guard<std::mutex> l(mu_);
    key = expected_[(*queue)[position]].key;
  }
  const int64_t start = MonoNanos();
  absl::StatusOr<std::string> value = m.reader->Get(key);
  const int64_t now = MonoNanos();
  ++m.stats.gets;
  m.stats.get_ns += now - start;
  if (value.ok()) return now;
  if (value.status().code() != absl::StatusCode::kNotFound) {
    ++m.stats.get_errors;
  }
  return 0;
}

bool PresenceTracker::Scan(size_t map, std::deque<size_t>* queue) {
  size_t n;
  {
    std::lock_guard<std::mutex> l(mu_);
    n = queue->size();  // only this thread removes entries, from the front
  }
  if (n == 0) return true;
  // What is present is a prefix of the queue. Find its end by galloping from
  // the front (positions 0, 2, 6, 14, ...; the last one instead of any past
  // the end), then binary search: about 2 log2(found) Gets, 1 if nothing
  // arrived.
  size_t lo = 0, hi = n;  // [0, lo) present, [hi, n) absent
  int64_t seen = 0;       // when [0, lo) was last proven present
  for (size_t step = 1; lo < hi;) {
    const size_t probe = std::min(lo + step - 1, n - 1);
    if (int64_t t = Present(map, queue, probe); t != 0) {
      lo = probe + 1;
      seen = t;
      step *= 2;
    } else {
      hi = probe;
      break;
    }
  }
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (int64_t t = Present(map, queue, mid); t != 0) {
      lo = mid + 1;
      seen = t;
    } else {
      hi = mid;
    }
  }
  const size_t found = lo;
  if (found == 0) return false;
  std::lock_guard<std::mutex> l(mu_);
  for (size_t i = 0; i < found; ++i) {
    const size_t index = queue->front();
    queue->pop_front();
    expected_[index].seen_ns[map] = seen;
    --unseen_[index];
  }
  while (first_unseen_ < unseen_.size() && unseen_[first_unseen_] == 0) {
    ++first_unseen_;
  }
  return found == n;
}

}  // namespace relaysync::bench
