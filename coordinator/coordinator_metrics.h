// What the coordinator counts for Prometheus (docs/operations.md,
// "Metrics"): handles made once from the registry, or no-ops when metrics
// are off. Gauges read on demand (connected agents, their lag, store
// entries) are set at scrape time by coordinator.cc.
#ifndef RELAYSYNC_COORDINATOR_COORDINATOR_METRICS_H_
#define RELAYSYNC_COORDINATOR_COORDINATOR_METRICS_H_

#include <array>
#include <cstddef>

#include "metrics/metrics.h"

namespace relaysync {

// Why the coordinator refused a call or a login (the `reason` label of
// relaysync_coordinator_refused_total).
enum class Refusal {
  kUnauthenticated,  // no usable client certificate identity
  kPermission,       // the identity lacks the role
  kHostId,           // hello names a host id the identity does not grant
  kCallRate,         // --identity-call-rate
  kMaxStreams,       // --max-streams
  kIdentityStreams,  // --identity-max-streams
  kLoginRate,        // --agent-login-rate (a batch deferred)
  kUserAddresses,    // --user-max-addresses (a login not granted)
  kNeverRelay,       // --never-relay (a login dropped)
  kTlsHandshake,     // refused by gRPC during the TLS handshake
  kCount,
};

// Counters of refusals by reason. Copyable; default: off.
class Refusals {
 public:
  Refusals() = default;
  explicit Refusals(metrics::Registry* registry);
  void Count(Refusal reason) const {
    counters_[static_cast<size_t>(reason)].Increment();
  }

 private:
  std::array<metrics::Counter, static_cast<size_t>(Refusal::kCount)> counters_;
};

struct CoordinatorMetrics {
  CoordinatorMetrics() = default;  // off
  // Registers every metric in `registry` (not owned; null: off).
  explicit CoordinatorMetrics(metrics::Registry* registry);

  metrics::Counter logins_received;  // in batches, before any check
  metrics::Counter logins_merged;    // committed to the store
  metrics::Counter logins_rejected;  // acknowledged without a merge
  metrics::Histogram merge_seconds;  // one group commit
  metrics::Counter merge_failures;   // group commits the store failed
  metrics::Counter pushes;           // delta batches written to agents
  metrics::Counter pushed_changes;   // deltas in them
  metrics::Histogram push_bytes;     // size of each
  metrics::Counter snapshots;        // snapshot chunks written
  Refusals refusals;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_COORDINATOR_METRICS_H_
