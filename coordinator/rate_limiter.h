// Token buckets by key, for the coordinator's blast-radius limits: logins
// per agent host id (an agent over it is refused with RESOURCE_EXHAUSTED
// and keeps its logins spooled, so an honest storm is delayed, never lost)
// and Admin calls per identity. A key's bucket outlives its streams, so
// reconnecting does not refill it. Thread-safe.
#ifndef RELAYSYNC_COORDINATOR_RATE_LIMITER_H_
#define RELAYSYNC_COORDINATOR_RATE_LIMITER_H_

#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

struct RateLimit {
  double per_second = 0;  // 0: no limit
  double burst = 0;       // bucket size
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit) : limit_(limit) {}

  // True when `key` may spend `cost` tokens now (monotonic `now`): its
  // bucket holds that many, or is full for a cost above the burst. The
  // tokens are then taken; a cost above the burst leaves the bucket in
  // debt, so a login batch is never split (the protocol caps one at 1,000
  // logins) and the average rate still holds. When refused and
  // `retry_after` is given, it is set to how long until the same cost
  // would be admitted.
  bool Admit(const std::string& key, size_t cost, absl::Time now,
             absl::Duration* retry_after = nullptr);
  const RateLimit& limit() const { return limit_; }

 private:
  struct Bucket {
    double tokens;
    absl::Time at;
  };
  // Buckets kept at most; above it, full (idle) ones are forgotten.
  static constexpr size_t kMaxBuckets = 4096;

  const RateLimit limit_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_RATE_LIMITER_H_
