// ChangeHub: the recent state changes in version order, kept in memory so
// every agent stream can be fed deltas without a store read per agent, and
// the wake-up of those streams when a change is published.
#ifndef RELAYSYNC_COORDINATOR_CHANGE_HUB_H_
#define RELAYSYNC_COORDINATOR_CHANGE_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "backends/store/store.h"

namespace relaysync {

class ChangeHub {
 public:
  // Keeps the last `capacity` changes of store epoch `epoch`;
  // `base_version` is the store's version when the coordinator started
  // (nothing older is in memory).
  ChangeHub(size_t capacity, const std::string& epoch, uint64_t base_version);

  // Appends changes; versions must continue the sequence. Thread-safe, but
  // callers must publish in version order (the ChangeFeed does).
  void Publish(const std::vector<StateChange>& changes);

  // Appends to `out` up to `max` changes of `epoch` with version > `since`.
  // Returns false when memory cannot answer (another epoch, or `since` is
  // older than what memory holds): read the store instead.
  bool Read(const std::string& epoch, uint64_t since, size_t max,
            std::vector<StateChange>* out) const;

  uint64_t latest() const;
  std::string epoch() const;

  // Forgets every change and restarts at `base_version` of `epoch` (the
  // store was replaced or restarted empty), then wakes every subscriber.
  void Reset(const std::string& epoch, uint64_t base_version);

  // `wake` is called from the publishing thread after every Publish and
  // Reset, with the subscribers' lock held (so not after Unsubscribe
  // returns) but not the changes' lock: `wake` may Read, not Subscribe.
  // Returns an id for Unsubscribe.
  int Subscribe(std::function<void()> wake);
  void Unsubscribe(int id);

 private:
  void WakeAll();

  const size_t capacity_;

  mutable absl::Mutex mu_;  // the changes
  std::deque<StateChange> ring_ ABSL_GUARDED_BY(mu_);
  std::string epoch_ ABSL_GUARDED_BY(mu_);
  uint64_t latest_ ABSL_GUARDED_BY(mu_);

  // Taken before a subscriber's own lock (WakeAll), never after mu_.
  absl::Mutex subscribers_mu_;
  std::map<int, std::function<void()>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);
  int next_id_ ABSL_GUARDED_BY(subscribers_mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_CHANGE_HUB_H_
