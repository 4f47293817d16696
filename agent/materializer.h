// Materializer: keeps the local relay map equal to the cluster state plus
// this host's own logins that the coordinator has not acknowledged yet
// (local first: a login here relays here at once, coordinator or not).
#ifndef RELAYSYNC_AGENT_MATERIALIZER_H_
#define RELAYSYNC_AGENT_MATERIALIZER_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "backends/relayers_db.h"
#include "backends/store.h"
#include "common/address.h"

namespace relaysync {

struct MaterializerStats {
  uint64_t batches = 0;  // map writes (each one flock + sync)
  uint64_t puts = 0;
  uint64_t deletes = 0;
};

class Materializer {
 public:
  // `map` is not owned. Keys are written in `key_style`. Thread-safe: every
  // call is serialized, and each one is at most one map write.
  Materializer(MapWriter* map, KeyStyle key_style);

  // Starts from what the map holds now (written by an earlier run, at the
  // version the agent state file records). Call once, before anything else.
  absl::Status Load();

  // A login seen on this host (address canonical), pending acknowledgement.
  absl::Status AddLocal(const std::string& address, int64_t ticks) {
    return AddLocal({StateEntry{address, ticks}});
  }
  // Many local logins in one map write (spool replay, resend).
  absl::Status AddLocal(const std::vector<StateEntry>& logins);

  // What the map holds (canonical address -> ticks), as this process last
  // wrote or read it: what the agent re-sends when the store lost state.
  std::vector<StateEntry> Held() const;
  // The coordinator acknowledged these local logins: from now on the
  // cluster state alone decides about their addresses.
  absl::Status Acknowledged(
      const std::vector<std::pair<std::string, int64_t>>& logins);

  // Replaces the cluster state and reconciles the map with it: adds what is
  // missing, fixes timestamps, removes what the cluster no longer has
  // (keeping local logins still pending).
  absl::Status ApplySnapshot(const std::vector<StateEntry>& entries);
  // Applies ordered deltas to the cluster state and the map.
  absl::Status ApplyDeltas(const std::vector<StateChange>& deltas);

  MaterializerStats stats() const;

 private:
  // The timestamp the map should hold for `address`, or 0 for none.
  int64_t Desired(const std::string& address) const;
  // Writes Desired() for every address in `touched`, skipping no-ops.
  absl::Status Write(const std::vector<std::string>& touched);
  std::string Key(const std::string& address) const;

  MapWriter* const map_;
  const KeyStyle key_style_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> cluster_;
  // Unacknowledged local logins: address -> (latest ticks, count pending).
  struct Pending {
    int64_t ticks = 0;
    int count = 0;
  };
  std::unordered_map<std::string, Pending> local_;
  // Acknowledgements that overtook their login's AddLocal(): address ->
  // count. Each cancels one later AddLocal() of that address.
  static constexpr size_t kMaxEarlyAcks = 100000;
  std::unordered_map<std::string, int> early_acks_;
  // What the map holds, as far as this process wrote or read it.
  std::unordered_map<std::string, int64_t> written_;
  MaterializerStats stats_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_MATERIALIZER_H_
