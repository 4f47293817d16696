#include "coordinator/coordinator_metrics.h"

namespace relaysync {
namespace {

constexpr const char* kReasons[] = {
    "unauthenticated", "permission_denied", "host_id",    "call_rate",
    "max_streams",     "identity_streams",  "login_rate", "user_addresses",
    "never_relay",     "tls_handshake",
};
static_assert(sizeof(kReasons) / sizeof(kReasons[0]) ==
              static_cast<size_t>(Refusal::kCount));

}  // namespace

Refusals::Refusals(metrics::Registry* registry) {
  if (registry == nullptr) return;
  for (size_t i = 0; i < counters_.size(); ++i) {
    counters_[i] = registry->AddCounter(
        "relaysync_coordinator_refused_total",
        "Calls and logins the coordinator refused, by reason (access "
        "policy, rate and stream limits, never-relay).",
        {{"reason", kReasons[i]}});
  }
}

CoordinatorMetrics::CoordinatorMetrics(metrics::Registry* r) : refusals(r) {
  if (r == nullptr) return;
  logins_received =
      r->AddCounter("relaysync_coordinator_logins_received_total",
                    "Login events received from agents, before any check.");
  logins_merged = r->AddCounter("relaysync_coordinator_logins_merged_total",
                                "Logins merged into the store (durable).");
  logins_rejected = r->AddCounter(
      "relaysync_coordinator_logins_rejected_total",
      "Logins acknowledged without a merge: invalid, never relayed, or over "
      "their user's address limit.");
  merge_seconds = r->AddHistogram(
      "relaysync_coordinator_merge_duration_seconds",
      "Time to merge one group commit of login batches into the store.",
      metrics::LatencyBuckets());
  merge_failures = r->AddCounter(
      "relaysync_coordinator_merge_failures_total",
      "Group commits the store failed (their logins stay in the agents' "
      "spools).");
  pushes = r->AddCounter("relaysync_coordinator_pushes_total",
                         "Delta batches pushed to agents.");
  pushed_changes = r->AddCounter("relaysync_coordinator_pushed_changes_total",
                                 "Changes in the delta batches pushed.");
  push_bytes = r->AddHistogram("relaysync_coordinator_push_size_bytes",
                               "Size of each delta batch pushed to an agent.",
                               metrics::SizeBuckets());
  snapshots =
      r->AddCounter("relaysync_coordinator_snapshot_chunks_total",
                    "Snapshot chunks sent to agents that needed a full copy.");
}

}  // namespace relaysync
