// Jittered exponential backoff for retry loops: each failure in a row waits
// longer, up to a cap, and a random factor keeps many processes that failed
// together (one coordinator restart, one full disk) from retrying in
// lockstep. Every retry loop in the agent and the coordinator uses it.
#ifndef RELAYSYNC_COMMON_BACKOFF_H_
#define RELAYSYNC_COMMON_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace relaysync {

// Not thread-safe: one instance per loop, used by that loop's thread.
class Backoff {
 public:
  // Waits start at `initial` and double to at most `max` (both > 0,
  // initial <= max; others are clamped). `seed` fixes the random factor
  // (tests); the default draws one from the OS.
  Backoff(absl::Duration initial, absl::Duration max);
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);

  // After a failure: how long to wait before the next attempt. The current
  // step times a random factor in [0.5, 1] (so never more than `max`, and
  // never less than half of `initial`); then the step doubles.
  absl::Duration Next();
  // After a success: the next failure waits about `initial` again.
  void Reset();

  // Next() calls since construction or the last Reset().
  int failures() const { return failures_; }
  // The longest wait this backoff gives, for messages ("retries at least
  // every 30s").
  absl::Duration max() const { return max_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  absl::Duration step_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_BACKOFF_H_
