#include "agent/metered_map.h"

#include <utility>

#include "absl/time/clock.h"

namespace relaysync {

MeteredMap::MeteredMap(std::unique_ptr<MapWriter> map,
                       metrics::Registry* registry)
    : map_(std::move(map)),
      write_seconds_(registry->AddHistogram(
          "relaysync_agent_map_write_duration_seconds",
          "Time of each write to the relay map(s): a batch of changes, an "
          "expiry pass or a first fill, with its locks and flush.",
          metrics::LatencyBuckets())),
      write_errors_(registry->AddCounter(
          "relaysync_agent_map_write_errors_total",
          "Writes to the relay map that failed (retried; logged).")),
      lock_wait_(registry->AddGauge(
          "relaysync_agent_map_lock_wait_max_seconds",
          "The longest wait for the map's exclusive lock (flock, held by an "
          "MTA's lookup) in the latest batch written.")),
      lock_hold_(registry->AddGauge(
          "relaysync_agent_map_lock_hold_max_seconds",
          "The longest the latest batch written held the map's exclusive "
          "lock in one part (MTA lookups wait that long).")) {}

void MeteredMap::Record(absl::Time start, const absl::Status& s) const {
  write_seconds_.ObserveDuration(absl::Now() - start);
  if (!s.ok()) write_errors_.Increment();
}

absl::StatusOr<ApplyResult> MeteredMap::Apply(const MapBatch& batch) {
  const absl::Time start = absl::Now();
  absl::StatusOr<ApplyResult> r = map_->Apply(batch);
  Record(start, r.status());
  if (r.ok()) {
    lock_wait_.Set(absl::ToDoubleSeconds(r->longest_lock_wait));
    lock_hold_.Set(absl::ToDoubleSeconds(r->longest_lock_hold));
  }
  return r;
}

absl::StatusOr<std::vector<MapEntry>> MeteredMap::RemoveAtOrBefore(
    int64_t cutoff) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<MapEntry>> r = map_->RemoveAtOrBefore(cutoff);
  Record(start, r.status());
  return r;
}

absl::Status MeteredMap::SignalWrites() {
  absl::Status s = map_->SignalWrites();
  if (!s.ok()) write_errors_.Increment();
  return s;
}

absl::StatusOr<bool> MeteredMap::Fill(const MapBatch& batch) {
  const absl::Time start = absl::Now();
  absl::StatusOr<bool> r = map_->Fill(batch);
  Record(start, r.status());
  return r;
}

}  // namespace relaysync
