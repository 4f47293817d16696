// LocalExpiry: the agent's expiry timer. It removes entries from the relay
// map as they fall due under the coordinator's expiry policy, whether a
// coordinator is reachable or not, so that relay rights end on time during
// an outage too (docs/state.md, "Expiry on the agent").
#ifndef RELAYSYNC_AGENT_LOCAL_EXPIRY_H_
#define RELAYSYNC_AGENT_LOCAL_EXPIRY_H_

#include <cstddef>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/coordinator_client.h"
#include "agent/materializer.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

class LocalExpiry {
 public:
  // The longest wait between two passes. Passes are timed for the next
  // entry due, so this bounds only how late an entry is removed that came
  // in due before all others (or after a clock step): overstay <= 250 ms.
  static constexpr absl::Duration kMaxWait = absl::Milliseconds(250);

  // None owned; all must outlive this. `client` says whether a coordinator
  // is reachable, for the log line only: it may be null if Start() is never
  // called (tests drive RunOnce()).
  LocalExpiry(Materializer* materializer, const CoordinatorClient* client,
              const Clock* clock);
  ~LocalExpiry();  // Stop()

  void Start();
  // Ends the thread. Idempotent.
  void Stop();

  // After a failed pass the next waits longer, from kMinRetry to kMaxRetry
  // with jitter (a map that is not a Berkeley DB stays so until an operator
  // acts): no tight loop of reads of a broken file.
  static constexpr absl::Duration kMinRetry = absl::Seconds(1);
  static constexpr absl::Duration kMaxRetry = absl::Seconds(30);

  // One pass: removes what is due and returns how long to wait for the
  // next (1 ms to kMaxWait, or the retry backoff after a failure). `connected`:
  // a coordinator is reachable now. Once it is again after an outage, logs how
  // many entries the outage expired here. Runs on the thread; public for tests.
  absl::Duration RunOnce(bool connected);

 private:
  void Loop();
  // Logs expired_in_outage_ and resets it.
  void LogOutage();

  Materializer* const materializer_;
  const CoordinatorClient* const client_;
  const Clock* const clock_;
  RateLimitedLog failures_{absl::Minutes(1)};
  Backoff retry_{kMinRetry, kMaxRetry};  // RunOnce() only (one thread)

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // Entries expired since the coordinator was last reachable. Only
  // RunOnce() uses it (one thread).
  size_t expired_in_outage_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOCAL_EXPIRY_H_
