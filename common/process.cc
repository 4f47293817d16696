#include "common/process.h"

#include "absl/synchronization/mutex.h"

namespace relaysync {

void InitProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace relaysync
