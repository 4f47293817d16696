// MeteredMap: a MapWriter that forwards every call to the agent's map and
// measures its writes for Prometheus: write latency, failed writes, and the
// longest lock wait and hold of the latest write (what an MTA's lookup may
// have waited). Wraps the map only when metrics are on.
#ifndef RELAYSYNC_AGENT_METERED_MAP_H_
#define RELAYSYNC_AGENT_METERED_MAP_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/map/relayers_db.h"
#include "metrics/metrics.h"

namespace relaysync {

class MeteredMap final : public MapWriter {
 public:
  // `registry` is not owned; it is used only here.
  MeteredMap(std::unique_ptr<MapWriter> map, metrics::Registry* registry);

  absl::StatusOr<std::vector<MapEntry>> ReadAll() override {
    return map_->ReadAll();
  }
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;
  absl::Status SignalWrites() override;
  absl::StatusOr<bool> Fill(const MapBatch& batch) override;

 private:
  // Records one write that started at `start` and ended with `s`.
  void Record(absl::Time start, const absl::Status& s) const;

  const std::unique_ptr<MapWriter> map_;
  const metrics::Histogram write_seconds_;
  const metrics::Counter write_errors_;
  const metrics::Gauge lock_wait_;
  const metrics::Gauge lock_hold_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_METERED_MAP_H_
