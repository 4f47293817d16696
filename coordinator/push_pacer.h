// PushPacer: spaces out the pushes to each agent when there are many.
// With a budget of B pushes per second to all agents together and N Sync
// streams open, a push due sooner than N / B seconds after the stream's
// previous one waits for the pacer's next beat of that period, when every
// waiting stream is pushed at once. Each push then carries every change
// since the last, instead of the coordinator and every agent spending
// their CPU on one message per change. However few the agents, a stream
// gets at most one push per kMinInterval; with thousands the beat is
// capped, so the budget gives way, not the propagation time.
#ifndef RELAYSYNC_COORDINATOR_PUSH_PACER_H_
#define RELAYSYNC_COORDINATOR_PUSH_PACER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

class PushPacer {
 public:
  // The shortest beat. A change that comes within it of the stream's last
  // push waits at most this long, and one message carries both: gRPC 1.51
  // answers every message it delivers to a waiting reader with a
  // WINDOW_UPDATE, so a message costs both sides a wake-up and a write. 8
  // agents at 1,000 logins/s (bench/README.md): agents' CPU per change
  // 107-111 -> 80-89 us, all-agents p50 and p99 unchanged. Longer beats
  // are cut to kMaxInterval.
  static constexpr absl::Duration kMinInterval = absl::Microseconds(2000);
  static constexpr absl::Duration kMaxInterval = absl::Microseconds(100000);

  // `push_budget`: pushes per second to all agents together; zero or less
  // never paces. Starts the beat thread.
  explicit PushPacer(int push_budget);
  // Stop().
  ~PushPacer();
  PushPacer(const PushPacer&) = delete;
  PushPacer& operator=(const PushPacer&) = delete;

  // How many streams are open (N above). Thread-safe, like every call.
  void SetStreams(size_t open);
  // The least time between two pushes to one stream now (N / B): zero when
  // that is under kMinInterval, at most kMaxInterval.
  absl::Duration Interval() const;
  // Whether a push may start at `now` on a stream whose previous push
  // started at `last_push`, or must wait for a beat.
  bool Due(std::chrono::steady_clock::time_point last_push,
           std::chrono::steady_clock::time_point now) const;
  // Runs `beat` on the beat thread at the next beat (after Stop: at once,
  // on this thread); the caller keeps what `beat` needs alive until then.
  // A beat missed while nothing waited is not made up for: the next one is
  // Interval() after the last, or now.
  void WaitForBeat(std::function<void()> beat);

  // Runs every waiting `beat` at once and joins the beat thread.
  // Idempotent.
  void Stop();

 private:
  void Loop();

  const int push_budget_;
  std::atomic<size_t> open_{0};

  absl::Mutex mu_;
  std::vector<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // joined by the first Stop()
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_PUSH_PACER_H_
