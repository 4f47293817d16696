#include "coordinator/push_pacer.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "common/thread_name.h"

namespace relaysync {

PushPacer::PushPacer(int push_budget)
    : push_budget_(push_budget), thread_([this] {
        NameThisThread("push-pacer");
        Loop();
      }) {}

PushPacer::~PushPacer() { Stop(); }

void PushPacer::SetStreams(size_t open) { open_.store(open); }

absl::Duration PushPacer::Interval() const {
  if (push_budget_ <= 0) return absl::ZeroDuration();
  const absl::Duration interval = absl::Microseconds(
      static_cast<int64_t>(open_.load() * 1000000 / push_budget_));
  return std::clamp(interval, kMinInterval, kMaxInterval);
}

bool PushPacer::Due(std::chrono::steady_clock::time_point last_push,
                    std::chrono::steady_clock::time_point now) const {
  return now >= last_push + absl::ToChronoMicroseconds(Interval());
}

void PushPacer::WaitForBeat(std::function<void()> beat) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      waiting_.push_back(std::move(beat));
      return;
    }
  }
  beat();
}

void PushPacer::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  thread_.join();
}

void PushPacer::Loop() {
  auto beat = std::chrono::steady_clock::now();
  auto stopping_or_waiting = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !waiting_.empty();
  };
  for (;;) {
    std::vector<std::function<void()>> ready;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(&stopping_or_waiting));
      if (waiting_.empty()) return;  // stopping
      // The next beat after the last one; a beat missed while idle is not
      // made up for.
      const auto now = std::chrono::steady_clock::now();
      beat = std::max(beat + absl::ToChronoMicroseconds(Interval()), now);
      if (!stopping_) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                             absl::FromChrono(beat - now));
      }
      ready.swap(waiting_);
    }
    for (std::function<void()>& run : ready) run();
  }
}

}  // namespace relaysync
