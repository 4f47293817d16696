// MapOutputs: the agent's several relay maps (--output=KIND:PATH, --db),
// kept from one Materializer. It is a MapWriter over canonical keys that
// writes every batch to each map in that map's own key spelling, so all
// maps hold the same entries; a map that cannot be written is logged,
// left behind and rebuilt whole once it can be written again, while the
// others stay current.
#ifndef RELAYSYNC_AGENT_MAP_OUTPUTS_H_
#define RELAYSYNC_AGENT_MAP_OUTPUTS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/map/relayers_db.h"
#include "common/address.h"
#include "common/backoff.h"
#include "common/rate_limited_log.h"

namespace relaysync {

class MapOutputs : public MapWriter {
 public:
  struct Output {
    std::string name;  // "KIND:PATH", for messages
    std::unique_ptr<MapWriter> map;
    KeyStyle key_style;  // how `map` spells IPv6 keys
  };

  // `outputs` (at least one) in order of preference for ReadAll. A map
  // that fails is retried with a backoff from `retry_min` to `retry_max`.
  MapOutputs(std::vector<Output> outputs, absl::Duration retry_min,
             absl::Duration retry_max);

  // The first readable map's entries, keys in canonical form (keys that
  // are not an address in that map's spelling are returned as stored).
  // What it returns becomes the content every map is brought to: each map
  // is compared with it, entry by entry, at the next write.
  absl::StatusOr<std::vector<MapEntry>> ReadAll() override;
  // Applies `batch` (canonical keys) to every current map, and rebuilds a
  // map left behind whose retry is due. OK when at least one map is
  // current afterwards; else the first failure (nothing reached any map).
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;
  // Passes the call to every current map, and retries maps left behind
  // (the agent calls it several times a second). Fails only when no map
  // is current.
  absl::Status SignalWrites() override;

  // The names of maps left behind, for tests and status.
  std::vector<std::string> Behind() const;

 private:
  struct Slot {
    Slot(Output o, absl::Duration retry_min, absl::Duration retry_max);
    Output out;
    bool current = false;  // holds content_; else rebuilt when due
    int failures = 0;      // in a row
    absl::Status failure;  // the last one
    Backoff backoff;
    std::chrono::steady_clock::time_point retry_at;
    RateLimitedLog trouble{absl::Minutes(1)};
  };

  absl::StatusOr<std::vector<MapEntry>> ReadAllLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ApplyResult> ApplyLocked(const MapBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brings `slot`'s map to content_ with one batch.
  absl::Status RebuildLocked(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the outcome of a write to `slot`; logs failures (rate-limited)
  // and the recovery.
  void RecordLocked(Slot* slot, const absl::Status& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds maps left behind whose retry is due; true if any map is
  // current afterwards, else *failure is the first failure.
  bool CatchUpLocked(absl::Status* failure) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  // What every map should hold: canonical key -> ticks.
  std::unordered_map<std::string, int64_t> content_ ABSL_GUARDED_BY(mu_);
  // content_ was read from a map (a write before that would empty them).
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_MAP_OUTPUTS_H_
