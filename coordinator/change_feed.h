// ChangeFeed: the one route by which a committed change reaches the agent
// streams. Its thread follows the store's change log (WaitForChange, then
// ChangesSince) and publishes what it reads to the ChangeHub, in the
// store's version order: this coordinator's own commits and, on a store
// several coordinators share (Redis), everyone else's alike. When the
// store's epoch changes, or its log has moved past the hub, it resets the
// hub, and the streams fall back to snapshots. Nothing else publishes.
#ifndef RELAYSYNC_COORDINATOR_CHANGE_FEED_H_
#define RELAYSYNC_COORDINATOR_CHANGE_FEED_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "backends/store/store.h"
#include "coordinator/change_hub.h"

namespace relaysync {

class ChangeFeed {
 public:
  // None owned; both must outlive the feed. The hub starts at the store's
  // epoch and version (or older: the feed catches up).
  ChangeFeed(Store* store, ChangeHub* hub);
  // Stop().
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Starts following the store on a thread of its own. Idempotent.
  void Start();
  // Stops that thread and joins it. A wait inside the store is not cut
  // short: this takes up to a tenth of a second. Idempotent.
  void Stop();

  // One round without waiting: publishes up to 10,000 changes the store
  // committed after the hub's latest, or resets the hub. For callers that
  // run no thread (tests, the fuzz target); not while the thread runs.
  absl::Status CatchUp();

 private:
  void Loop();
  // Publishes what the store committed since the hub's latest, given the
  // store's current `version`; or resets the hub.
  absl::Status Step(uint64_t version);

  Store* const store_;
  ChangeHub* const hub_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started and joined under Start/Stop's calls
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_CHANGE_FEED_H_
