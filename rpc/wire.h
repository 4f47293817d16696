// The v1 protocol's messages <-> relaysync's state structs
// (common/relay_state.h), in one place: the coordinator builds deltas,
// snapshot chunks and Admin.List answers with these, and the agent and
// vsmtprelay read them back. Field copies only: limits are checked where a
// message is accepted (coordinator/sync_input.h), not here. Each ToProto
// sets the fields its struct has and leaves the others as they are, so
// give it a fresh message (as add_deltas() and add_entries() return).
#ifndef RELAYSYNC_RPC_WIRE_H_
#define RELAYSYNC_RPC_WIRE_H_

#include "common/relay_state.h"

// The generated classes, kept out of this header (relaysync.pb.h is heavy).
namespace relaysync::v1 {
class Delta;
class Entry;
}  // namespace relaysync::v1

namespace relaysync {

// A change of the relay map, as DeltaBatch carries it.
void ToProto(const StateChange& change, v1::Delta* out);
void FromProto(const v1::Delta& delta, StateChange* out);

// An entry as agents get it (SnapshotChunk, AddResponse): address and
// ticks; user and host_id are neither set nor read.
void ToProto(const StateEntry& entry, v1::Entry* out);
void FromProto(const v1::Entry& entry, StateEntry* out);

// An entry with who granted it (ListResponse): also user and host_id, both
// empty when unknown. The user name is bytes as logged, maybe not UTF-8.
void ToProto(const AttributedEntry& entry, v1::Entry* out);
void FromProto(const v1::Entry& entry, AttributedEntry* out);

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_WIRE_H_
