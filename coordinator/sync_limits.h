// SyncLimits: the bounds on what agent streams can make the coordinator
// hold in memory. Apart from sync_service.h so that options can name them
// without gRPC's headers.
#ifndef RELAYSYNC_COORDINATOR_SYNC_LIMITS_H_
#define RELAYSYNC_COORDINATOR_SYNC_LIMITS_H_

#include <cstddef>

#include "absl/time/time.h"

namespace relaysync {

// What one client can make the coordinator hold (docs/security.md,
// "Limits"), whatever it does.
struct SyncLimits {
  // Sync streams open at once, all identities together (--insecure
  // included); more are refused with RESOURCE_EXHAUSTED.
  size_t max_streams = 1000;
  // Event ids a stream may have waiting for their acknowledgement before it
  // stops reading (SyncStreamShared::max_unsent).
  size_t max_unsent = 10000;
  // A write the agent has not taken for this long ends its stream.
  absl::Duration stall_timeout = absl::Seconds(60);
  // Streams holding a snapshot in memory at once (SnapshotSlots).
  int max_snapshots = 4;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_LIMITS_H_
