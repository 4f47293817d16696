// The RelaySync service: one bidirectional stream per agent (SyncStream, a
// callback reactor), admitted within the stream limits (OpenStreams), and
// what the streams share: the group commit of their login batches
// (GroupCommit), the workers for the store reads a stream must not do on
// gRPC's threads (WorkerPool), the pacing of pushes (PushPacer), the
// snapshot slots, and a tick that looks at every stream now and then.
// Threads do not grow with the number of agents.
#ifndef RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
#define RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "backends/store/store.h"
#include "common/clock.h"
#include "common/never_relay_gate.h"
#include "coordinator/agent_registry.h"
#include "coordinator/change_hub.h"
#include "coordinator/group_commit.h"
#include "coordinator/open_streams.h"
#include "coordinator/push_pacer.h"
#include "coordinator/snapshot_slots.h"
#include "coordinator/state_writer.h"
#include "coordinator/sync_limits.h"
#include "coordinator/sync_stream.h"
#include "coordinator/worker_pool.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

namespace relaysync {

class SyncService final : public v1::RelaySync::CallbackService {
 public:
  // None owned; all must outlive the service. Starts its threads.
  // With `push_budget` > 0 (pushes per second, to all agents together),
  // pushes to each agent are spaced out (PushPacer). Every stream needs the
  // agent role from `authorizer`. Logins `gate` refuses are acknowledged
  // and dropped. Merges run on store->concurrent_merges() threads. What
  // the streams and merges count goes to `metrics` (null: nothing).
  SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
              AgentRegistry* registry, const Clock* clock,
              Authorizer* authorizer, RateLimiter* limiter,
              UserAddressLimit* user_limit, int push_budget,
              NeverRelayGate* gate, const SyncLimits& limits,
              const CoordinatorMetrics* metrics = nullptr);
  // After the server has shut down: finishes queued work, joins.
  ~SyncService() override;

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* Sync(
      grpc::CallbackServerContext* context) override;

  // Ends every open stream (UNAVAILABLE, so agents fail over) and refuses
  // new ones; call before Server::Shutdown.
  void Shutdown();

 private:
  // Every 200 ms: ends the streams stalled for stall_timeout, and pumps
  // the others, so a change no publish announced is noticed.
  void TickLoop();

  PushPacer pacer_;
  SnapshotSlots snapshots_;
  WorkerPool workers_;
  GroupCommit commits_;
  OpenStreams streams_;
  SyncStreamShared shared_;  // points at the members above

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
