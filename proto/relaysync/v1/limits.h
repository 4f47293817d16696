// The limits of the v1 wire protocol, in one place. relaysync.proto (beside
// this file) states them for other implementations ("Limits"); change both
// together. Header only, with no gRPC or protobuf include, so that any
// library may use it: the coordinator enforces these limits, the agent and
// vsmtprelay stay within them, and the stores keep fields of this size.
#ifndef RELAYSYNC_PROTO_RELAYSYNC_V1_LIMITS_H_
#define RELAYSYNC_PROTO_RELAYSYNC_V1_LIMITS_H_

#include <cstddef>

namespace relaysync {

// The largest message either side sends or accepts (an int, as gRPC's
// channel and server options take it).
inline constexpr int kMaxMessageBytes = 4 << 20;

// Events in one LoginBatch. The coordinator refuses a larger batch
// (INVALID_ARGUMENT ends the stream); the agent sends at most this many in
// one message.
inline constexpr size_t kMaxLoginsPerBatch = 1000;

// Addresses in one DeleteRequest (INVALID_ARGUMENT beyond); vsmtprelay
// splits a longer list into several requests.
inline constexpr size_t kMaxAddressesPerRequest = 1000;

// Bytes of a text field: an event_id or a Hello's host_id over it is
// refused; a user or source over it is cut. The stores keep an entry's
// attribution (host id, user) within it too.
inline constexpr size_t kMaxTextField = 256;

// Entries the coordinator puts in one SnapshotChunk or ListResponse.
inline constexpr size_t kSnapshotChunkEntries = 5000;

// Deltas the coordinator puts in one DeltaBatch.
inline constexpr size_t kMaxDeltasPerMessage = 1000;

// A chunk fits in a message even when every entry carries a full
// attribution (user and host id) and its longest address, with room for
// the field tags and lengths.
static_assert(kSnapshotChunkEntries * (2 * kMaxTextField + 128) <
              static_cast<size_t>(kMaxMessageBytes));

}  // namespace relaysync

#endif  // RELAYSYNC_PROTO_RELAYSYNC_V1_LIMITS_H_
