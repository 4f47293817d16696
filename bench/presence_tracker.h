// PresenceTracker: records when each expected key first shows up in each of
// a set of relayers.db files, for the propagation benchmark. One thread per
// map watches it with inotify and, on a change, looks its missing keys up
// with RelayersDb::Get, so it reads the map as an MTA does (shared flock,
// reopen when the file changed).
//
// Keys reach a map in a known order, so what a map holds of its missing keys
// is always a prefix of a queue. The map's own agent writes its logins in
// the order they were sent to it ("own" queue); every other agent's login
// arrives as a delta, and deltas are applied in the coordinator's version
// order ("remote" queue), which Merged() reports (the benchmark learns it
// from a Sync stream of its own, MergeObserver). A round searches each queue
// for the end of that prefix (galloping from the front, then bisecting):
// about 2 log2(keys found) Gets per round instead of one per outstanding key,
// which on a two-core machine would eat the CPU of the cluster being
// measured once it falls behind. Every key of the prefix is
// recorded at the time of the Get that proved it there. The queues are a
// property of the agent and coordinator, not an assumption about timing; if
// an agent broke them, keys would be found late, never early.
#ifndef RELAYSYNC_BENCH_PRESENCE_TRACKER_H_
#define RELAYSYNC_BENCH_PRESENCE_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/map/relayers_db.h"

namespace relaysync::bench {

class PresenceTracker {
 public:
  struct Expected {
    std::string key;
    int64_t sent_ns = 0;    // MonoNanos() time base
    int origin = 0;         // the map whose agent received the login
    int64_t merged_ns = 0;  // when Merged() reported it; 0 = never
    // Per map: MonoNanos() when the key was first seen there, 0 = never.
    std::vector<int64_t> seen_ns;
  };
  struct Stats {
    uint64_t rounds = 0;        // wake-ups of a map's thread, all maps
    uint64_t quiet_rounds = 0;  // of those, timeouts with no event
    uint64_t gets = 0;          // RelayersDb::Get calls
    uint64_t get_errors = 0;    // Gets that failed other than NotFound
    int64_t get_ns = 0;         // wall time inside Get, all maps
  };

  // Opens every map (they must exist) read-only and starts one watching
  // thread per map.
  static absl::StatusOr<std::unique_ptr<PresenceTracker>> Start(
      const std::vector<std::string>& maps);
  ~PresenceTracker();  // Stop()
  PresenceTracker(const PresenceTracker&) = delete;
  PresenceTracker& operator=(const PresenceTracker&) = delete;

  // Expects `key` in every map; returns its index in expected(). Call before
  // the login is sent. Thread-safe.
  size_t Expect(std::string key, int64_t sent_ns, int origin);
  // The coordinator has merged `key` (in version order). Unknown keys and
  // repeats are ignored. Thread-safe.
  void Merged(const std::string& key);
  // True when the first `count` expected keys are in every map.
  bool AllSeen(size_t count);
  // Keys still missing from some map.
  size_t Outstanding();
  // Keys expected so far.
  size_t ExpectedCount();

  // Stops and joins the threads. After it, expected() and stats() are stable.
  void Stop();
  const std::deque<Expected>& expected() const { return expected_; }
  Stats stats() const;

 private:
  struct Map {
    std::unique_ptr<RelayersDb> reader;
    int inotify_fd = -1;
    int wake_fd = -1;           // eventfd: Merged() into an empty queue, Stop()
    std::deque<size_t> own;     // guarded by mu_
    std::deque<size_t> remote;  // guarded by mu_
    Stats stats;                // its thread only
  };

  PresenceTracker() = default;
  void Watch(size_t map);
  // Waits up to `timeout_ms` for an inotify event or a wake-up and drains
  // them; false on a quiet timeout.
  bool WaitForChange(Map& map, int timeout_ms);
  // Pops and records the keys at the head of `queue` that are present.
  // True if every key it looked at was there (or the queue was empty).
  bool Scan(size_t map, std::deque<size_t>* queue);
  size_t QueueSize(const std::deque<size_t>& queue);
  // Get of the key at `position` in `queue`: when it returned, 0 if absent.
  int64_t Present(size_t map, std::deque<size_t>* queue, size_t position);
  static void Poke(int fd);

  std::vector<Map> maps_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<Expected> expected_;                  // guarded by mu_
  std::unordered_map<std::string, size_t> index_;  // guarded by mu_
  std::vector<size_t> unseen_;  // per expected key: maps lacking it; mu_
  size_t first_unseen_ = 0;     // every key before it is everywhere; mu_
};

}  // namespace relaysync::bench

#endif  // RELAYSYNC_BENCH_PRESENCE_TRACKER_H_
