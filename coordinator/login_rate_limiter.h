// Per-agent login rate limit: a token bucket per host id, shared by every
// stream of that host (reconnecting does not refill it). A mail host that
// is compromised, or whose users' passwords are being stuffed, can then
// push at most `per_second` logins (after a `burst`) into the cluster; the
// excess is refused with RESOURCE_EXHAUSTED and stays in that agent's spool,
// so an honest storm is delayed, never lost. Thread-safe.
#ifndef RELAYSYNC_COORDINATOR_LOGIN_RATE_LIMITER_H_
#define RELAYSYNC_COORDINATOR_LOGIN_RATE_LIMITER_H_

#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

struct LoginRateLimit {
  double per_second = 0;  // 0: no limit
  double burst = 0;       // bucket size, in logins
};

class LoginRateLimiter {
 public:
  explicit LoginRateLimiter(LoginRateLimit limit) : limit_(limit) {}

  // True when `host` may merge a batch of `logins` now (monotonic `now`):
  // its bucket holds that many tokens, or is full for a batch larger than
  // the burst. The batch then takes its tokens; one larger than the burst
  // leaves the bucket in debt, so a batch is never split (the protocol
  // caps one at 1,000 logins) and the average rate still holds.
  bool Admit(const std::string& host, size_t logins, absl::Time now);
  const LoginRateLimit& limit() const { return limit_; }

 private:
  struct Bucket {
    double tokens;
    absl::Time at;
  };
  // Buckets kept at most; above it, full (idle) ones are forgotten.
  static constexpr size_t kMaxBuckets = 4096;

  const LoginRateLimit limit_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_LOGIN_RATE_LIMITER_H_
