// SnapshotSlots: how many agent streams may hold a snapshot in memory at
// once. A snapshot is read whole from the store and kept as chunks until
// the agent has taken the last one; with many agents connecting at once
// (a coordinator restart) the others wait their turn instead of each
// holding a copy of the store.
#ifndef RELAYSYNC_COORDINATOR_SNAPSHOT_SLOTS_H_
#define RELAYSYNC_COORDINATOR_SNAPSHOT_SLOTS_H_

#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace relaysync {

class SnapshotSlots {
 public:
  explicit SnapshotSlots(int slots) : free_(slots) {}

  // Runs `start` once a slot is this caller's: at once on this thread, or
  // later on the thread of the Release() that frees one. Whoever `start`
  // runs for must call Release() exactly once. Thread-safe; `start` runs
  // without the slots' lock.
  void Acquire(std::function<void()> start);
  void Release();

 private:
  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SNAPSHOT_SLOTS_H_
