#include "rpc/wire.h"

#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {

void ToProto(const StateChange& change, v1::Delta* out) {
  out->set_version(change.version);
  out->set_address(change.address);
  out->set_ticks(change.ticks);
  out->set_removed(change.removed);
}

void FromProto(const v1::Delta& delta, StateChange* out) {
  out->version = delta.version();
  out->address = delta.address();
  out->ticks = delta.ticks();
  out->removed = delta.removed();
}

void ToProto(const StateEntry& entry, v1::Entry* out) {
  out->set_address(entry.address);
  out->set_ticks(entry.ticks);
}

void FromProto(const v1::Entry& entry, StateEntry* out) {
  out->address = entry.address();
  out->ticks = entry.ticks();
}

void ToProto(const AttributedEntry& entry, v1::Entry* out) {
  out->set_address(entry.address);
  out->set_ticks(entry.ticks);
  out->set_user(entry.who.user);
  out->set_host_id(entry.who.host);
}

void FromProto(const v1::Entry& entry, AttributedEntry* out) {
  out->address = entry.address();
  out->ticks = entry.ticks();
  out->who = Attribution{entry.host_id(), entry.user()};
}

}  // namespace relaysync
