#include "coordinator/snapshot_slots.h"

#include <utility>

namespace relaysync {

void SnapshotSlots::Acquire(std::function<void()> start) {
  {
    absl::MutexLock l(&mu_);
    if (free_ <= 0) {
      waiting_.push_back(std::move(start));
      return;
    }
    --free_;
  }
  start();
}

void SnapshotSlots::Release() {
  std::function<void()> next;
  {
    absl::MutexLock l(&mu_);
    if (waiting_.empty()) {
      ++free_;
      return;
    }
    // The slot passes straight to the next in line.
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next();
}

}  // namespace relaysync
