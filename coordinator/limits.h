// Request limits of the v1 protocol (documented in relaysync.proto).
#ifndef RELAYSYNC_COORDINATOR_LIMITS_H_
#define RELAYSYNC_COORDINATOR_LIMITS_H_

#include <cstddef>

namespace relaysync {

inline constexpr size_t kMaxLoginsPerBatch = 1000;
inline constexpr size_t kMaxAddressesPerRequest = 1000;
inline constexpr size_t kMaxTextField = 256;  // user, source, event_id
inline constexpr size_t kSnapshotChunkEntries = 5000;
inline constexpr size_t kMaxDeltasPerMessage = 1000;

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_LIMITS_H_
