// ChangeHub: the recent state changes in version order, kept in memory so
// every agent stream can be fed deltas without a store read per agent, and
// the wake-up of those streams when a change is published.
#ifndef RELAYSYNC_COORDINATOR_CHANGE_HUB_H_
#define RELAYSYNC_COORDINATOR_CHANGE_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backends/store/store.h"

namespace relaysync {

class ChangeHub {
 public:
  // Keeps the last `capacity` changes of store epoch `epoch`;
  // `base_version` is the store's version when the coordinator started
  // (nothing older is in memory).
  ChangeHub(size_t capacity, const std::string& epoch, uint64_t base_version);

  // Appends changes; versions must continue the sequence. Thread-safe, but
  // callers must publish in version order (StateWriter or the follower).
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

  // `wake` is called (from the publishing thread, without locks held by the
  // hub) after every Publish. Returns an id for Unsubscribe.
  int Subscribe(std::function<void()> wake);
  void Unsubscribe(int id);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  void WakeAll();

  std::deque<StateChange> ring_;
  std::string epoch_;
  uint64_t latest_;
  std::mutex subscribers_mu_;
  std::map<int, std::function<void()>> subscribers_;
  int next_id_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_CHANGE_HUB_H_
