// The clock seam: everything that asks "what time is it" goes through a
// Clock, so tests can pin time (FakeClock) and production uses the system.
#ifndef RELAYSYNC_COMMON_CLOCK_H_
#define RELAYSYNC_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace relaysync {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Whole seconds since the Unix epoch, the unit of relayers.db values.
  int64_t NowSeconds() const { return absl::ToUnixSeconds(Now()); }
};

// The real-time clock. Thread-safe; one shared instance.
class SystemClock : public Clock {
 public:
  static const Clock* Get();
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t)); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_CLOCK_H_
