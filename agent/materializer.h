// Materializer: keeps the local relay map equal to the cluster state plus
// this host's own logins that the coordinator has not acknowledged yet
// (local first: a login here relays here at once, coordinator or not),
// less what the expiry policy says is too old (by this host's clock, so it
// holds while no coordinator is reachable).
#ifndef RELAYSYNC_AGENT_MATERIALIZER_H_
#define RELAYSYNC_AGENT_MATERIALIZER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/address_table.h"
#include "backends/map/relayers_db.h"
#include "common/address.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"
#include "common/relay_state.h"

namespace relaysync {

struct MaterializerStats {
  uint64_t batches = 0;  // map writes (each one flock + sync)
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t expired = 0;  // deletes by Expire()
};

class Materializer {
 public:
  // `map` and `clock` are not owned. Keys are written in `key_style`.
  // Thread-safe: every call is serialized, and each one is at most one map
  // write.
  Materializer(MapWriter* map, KeyStyle key_style, const Clock* clock);

  // The expiry policy: an entry whose ticks are <= now - expire_after is
  // kept out of the map, whether the cluster still has it or it is a local
  // login not yet acknowledged (zero, the default, for "never" and for a
  // policy not known yet). Re-evaluates every entry: a longer policy brings
  // back what the cluster still has.
  absl::Status SetExpireAfter(absl::Duration expire_after);
  // The policy last set (zero: never, or not known yet).
  absl::Duration ExpireAfter() const;
  // Removes from the map what is due by the clock now; returns how many
  // entries it removed. The cluster state keeps them until its deltas or a
  // snapshot say otherwise, so a coordinator that still has one (clock
  // skew) can only bring it back with a policy change or a later login.
  absl::StatusOr<size_t> Expire();
  // Lets sendmail sessions that have the map open see writes whose mtime
  // bump was held back (MapWriter::SignalWrites); LocalExpiry calls it on
  // every pass.
  absl::Status SignalWrites();
  // When the earliest entry in the map falls due (at the soonest a second
  // after the last pass that found something due: a pass reads every
  // entry): InfiniteFuture when nothing expires.
  absl::Time NextExpiry() const;

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
  // Takes `entries` (and frees them before writing: a big snapshot
  // should not be held twice). On failure the new state is held all the
  // same, and Repair() writes it.
  absl::Status ApplySnapshot(std::vector<StateEntry> entries);
  // Applies ordered deltas to the cluster state and the map.
  absl::Status ApplyDeltas(const std::vector<StateChange>& deltas);

  // Every call above changes what this object holds first and writes the
  // map second: a failed write loses nothing here. After one, the next
  // write of any kind rebuilds the whole map (re-read, then rewritten from
  // what this object holds); this does only that, and is OK at once when
  // no write failed since the last rebuild. For retry loops.
  absl::Status Repair();

  MaterializerStats stats() const;
  // Entries the map holds, as far as this object wrote or read them; one
  // pass over the table (about 1 ms per 100k entries), after any write in
  // progress. For metrics.
  size_t entries() const;

 private:
  // Ticks at or before this are expired now (INT64_MIN: nothing is).
  int64_t CutoffLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The timestamp the map should hold for `address` (whose cell is
  // `cell`), or AddressTable::kNone.
  int64_t Desired(const Address& address, const AddressTable::Cell& cell,
                  int64_t cutoff) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes Desired() for every address in `touched`, skipping no-ops (and
  // text that is not an address, which no source lets through).
  absl::Status Write(const std::vector<std::string>& touched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteAddresses(const std::vector<Address>& touched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Warns, rate-limited, that `refused` changes (one is `example`) were
  // not addresses.
  void LogRefused(int refused, const std::string& example);
  // Writes Desired() for every address held or pending, skipping no-ops.
  absl::Status WriteAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends to `batch` the change that brings `address` from what the map
  // holds to `want`, and records it in `updates`; false for a no-op.
  bool Plan(const Address& address, int64_t have, int64_t want, MapBatch* batch,
            std::vector<std::pair<Address, int64_t>>* updates) const;
  // Applies `batch` (by MapWriter::Fill where it can) and then records
  // `updates` as written; after a failure, forgets what the map holds.
  absl::Status Commit(const MapBatch& batch,
                      const std::vector<std::pair<Address, int64_t>>& updates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Nothing is known to be in the map (before a re-read, after a failure).
  void ForgetWrittenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records what the map holds for `address` (kNone: nothing).
  void SetWritten(const Address& address, int64_t ticks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads what the map holds into the table's written side; returns the
  // deletion of every key this agent would not write (not applied).
  absl::StatusOr<MapBatch> RereadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-reads the map, removes what this agent would not write, and writes
  // Desired() for every address it holds or the map held.
  absl::Status RebuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MapWriter* const map_;
  const KeyStyle key_style_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  int64_t expire_after_seconds_ ABSL_GUARDED_BY(mu_) = 0;  // 0: never
  // Per address: the cluster's timestamp and what the map holds, as far as
  // this process wrote or read it.
  AddressTable table_ ABSL_GUARDED_BY(mu_);
  // Unacknowledged local logins: address -> (latest ticks, count pending).
  struct Pending {
    int64_t ticks = 0;
    int count = 0;
  };
  std::unordered_map<std::string, Pending> local_ ABSL_GUARDED_BY(mu_);
  // Acknowledgements that overtook their login's AddLocal(): address ->
  // count. Each cancels one later AddLocal() of that address.
  static constexpr size_t kMaxEarlyAcks = 100000;
  std::unordered_map<std::string, int> early_acks_ ABSL_GUARDED_BY(mu_);
  // False after a failed write: rebuild.
  bool written_known_ ABSL_GUARDED_BY(mu_) = true;
  // No entry in the map is older than this (INT64_MAX: the map is empty);
  // exact after every expiry scan, a lower bound in between.
  int64_t earliest_written_ ABSL_GUARDED_BY(mu_) =
      std::numeric_limits<int64_t>::max();
  // Batches of puts from this size on go to MapWriter::Fill when the map
  // is empty.
  static constexpr size_t kFillAtLeast = 10000;
  // An expiry scan reads every cell, so they run at most once a second.
  static constexpr absl::Duration kScanInterval = absl::Seconds(1);
  absl::Time last_scan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  MaterializerStats stats_ ABSL_GUARDED_BY(mu_);
  RateLimitedLog bad_address_log_{absl::Minutes(1)};  // LogRefused()
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_MATERIALIZER_H_
