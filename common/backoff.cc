// See backoff.h.
#include "common/backoff.h"

#include <algorithm>

namespace relaysync {
namespace {

absl::Duration AtLeastOneMs(absl::Duration d) {
  return std::max(d, absl::Milliseconds(1));
}

}  // namespace

Backoff::Backoff(absl::Duration initial, absl::Duration max)
    : Backoff(initial, max, std::random_device{}()) {}

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_(AtLeastOneMs(initial)),
      max_(std::max(AtLeastOneMs(max), initial_)),
      step_(initial_),
      rng_(seed) {}

absl::Duration Backoff::Next() {
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const absl::Duration wait = step_ * jitter(rng_);
  step_ = std::min(step_ * 2, max_);
  ++failures_;
  return wait;
}

void Backoff::Reset() {
  step_ = initial_;
  failures_ = 0;
}

}  // namespace relaysync
