#include "agent/sync_signal.h"

namespace relaysync {

void SyncSignal::Wake() {
  absl::MutexLock l(&mu_);
  wake_ = true;
}

void SyncSignal::Stop() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
}

bool SyncSignal::stopping() const {
  absl::MutexLock l(&mu_);
  return stopping_;
}

bool SyncSignal::WaitForWake(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return wake_ || stopping_;
  };
  const bool woken_up = mu_.AwaitWithTimeout(absl::Condition(&woken), timeout);
  wake_ = false;
  return woken_up;
}

bool SyncSignal::WaitForStop(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
}

}  // namespace relaysync
