// The seam between vsmtprelay's commands and where the relay map lives: a
// local relayers.db file, or (cluster-wide) the coordinator.
#ifndef RELAYSYNC_CLI_RELAY_BACKEND_H_
#define RELAYSYNC_CLI_RELAY_BACKEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/map/relayers_db.h"
#include "cli/agent_status.h"
#include "common/address.h"
#include "common/relay_state.h"

namespace relaysync {

// An entry as List gives it: key and value text as stored and, when asked
// for, who granted it (empty when unknown).
struct ListedEntry {
  MapEntry entry;
  Attribution who;
};

// What `status` prints, and how many agents it marks as behind.
struct Description {
  std::string text;
  int agents_behind = 0;
};

class RelayBackend {
 public:
  virtual ~RelayBackend() = default;

  // Inserts or replaces `address` with `ticks`, exactly (0 is the epoch);
  // without ticks, with now by the clock of whoever keeps the map (this
  // host for a file, the coordinator for the cluster).
  virtual absl::Status Add(const Address& address,
                           std::optional<int64_t> ticks) = 0;
  // Removes every address; returns the canonical text of those that were not
  // present (the others are removed regardless).
  virtual absl::StatusOr<std::vector<std::string>> Delete(
      const std::vector<Address>& addresses) = 0;
  // Removes every entry whose timestamp is <= `cutoff`; returns how many.
  virtual absl::StatusOr<int64_t> Expire(int64_t cutoff) = 0;
  // Every entry, raw (key text and value text as stored), in any order.
  // With `attribution`, each with who granted it: only the coordinator
  // keeps that; a local map answers FailedPrecondition.
  virtual absl::StatusOr<std::vector<ListedEntry>> List(bool attribution) = 0;
  // A human-readable description of the map and, for the cluster, of the
  // coordinator's store and its agents, judged by `limits` (relaysync's
  // `status`).
  virtual absl::StatusOr<Description> Describe(const AgentLimits& limits) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_RELAY_BACKEND_H_
