#include "coordinator/rate_limiter.h"

#include <algorithm>

namespace relaysync {

bool RateLimiter::Admit(const std::string& key, size_t cost, absl::Time now,
                        absl::Duration* retry_after) {
  if (limit_.per_second <= 0) return true;
  absl::MutexLock l(&mu_);
  auto refill = [&](Bucket* b) {
    b->tokens =
        std::min(limit_.burst, b->tokens + absl::ToDoubleSeconds(now - b->at) *
                                               limit_.per_second);
    b->at = now;
  };
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        refill(&b->second);
        b = b->second.tokens >= limit_.burst ? buckets_.erase(b) : std::next(b);
      }
    }
    it = buckets_.emplace(key, Bucket{limit_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  refill(&bucket);
  const double need = std::min(static_cast<double>(cost), limit_.burst);
  if (bucket.tokens < need) {
    if (retry_after != nullptr) {
      *retry_after = absl::Seconds((need - bucket.tokens) / limit_.per_second);
    }
    return false;
  }
  bucket.tokens -= static_cast<double>(cost);
  return true;
}

}  // namespace relaysync
