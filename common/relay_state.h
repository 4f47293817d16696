// The vocabulary of the cluster's relay state: an entry (address -> ticks),
// a change of it, and who granted an entry. Plain values, shared by the
// coordinator's Store (backends/store/store.h), the wire conversions
// (rpc/wire.h), the agent's materializer and vsmtprelay, so that none of
// them needs another's interface to name them. Rules: docs/state.md.
#ifndef RELAYSYNC_COMMON_RELAY_STATE_H_
#define RELAYSYNC_COMMON_RELAY_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/relaysync/v1/limits.h"

namespace relaysync {

// The longest attribution field a store keeps: the protocol's limit on
// host ids and user names.
inline constexpr size_t kMaxAttributionField = kMaxTextField;
// The host of an admin add, where an agent's host id would be.
inline constexpr char kAdminHost[] = "(admin)";

// Who granted an entry: for a login, the host id of the agent that
// reported it and the user name it logged (bytes as logged, maybe not
// UTF-8); for an admin add, host kAdminHost and the admin's identity. Each
// field is at most kMaxAttributionField bytes. Both empty: unknown (an
// entry written before attribution was kept).
struct Attribution {
  std::string host;
  std::string user;

  bool empty() const { return host.empty() && user.empty(); }
  bool fits() const {
    return host.size() <= kMaxAttributionField &&
           user.size() <= kMaxAttributionField;
  }
  bool operator==(const Attribution& o) const {
    return host == o.host && user == o.user;
  }
  bool operator!=(const Attribution& o) const { return !(*this == o); }
};

// One visible change of the relay map. Versions are dense and increasing
// within one store epoch.
struct StateChange {
  uint64_t version = 0;
  std::string address;
  int64_t ticks = 0;  // the new timestamp; meaningless when `removed`
  bool removed = false;
};

// A present entry: canonical address text and its timestamp.
struct StateEntry {
  std::string address;
  int64_t ticks = 0;
};

// A present entry and who set its timestamp, for admin reads (Admin.List);
// snapshots for agents leave it out.
struct AttributedEntry {
  std::string address;
  int64_t ticks = 0;
  Attribution who;  // empty when unknown
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_RELAY_STATE_H_
