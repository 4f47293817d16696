// The RelaySync service: one bidirectional stream per agent (SyncStream, a
// callback reactor), and the threads the streams share: one (two on a
// shared store) that group-commits the login batches of every stream into
// the store, and a few workers for the store reads a stream must not do on
// gRPC's threads.
// Threads do not grow with the number of agents.
#ifndef RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
#define RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/store.h"
#include "common/clock.h"
#include "common/never_relay_gate.h"
#include "coordinator/agent_registry.h"
#include "coordinator/change_hub.h"
#include "coordinator/push_pacer.h"
#include "coordinator/snapshot_slots.h"
#include "coordinator/state_writer.h"
#include "coordinator/sync_limits.h"
#include "coordinator/sync_stream.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

namespace relaysync {

class SyncService final : public v1::RelaySync::CallbackService {
 public:
  // None owned; all must outlive the service. Starts its threads.
  // With `push_budget` > 0 (pushes per second, to all agents together),
  // pushes to each agent are spaced out (PushPacer). Every stream needs
  // the agent role from `authorizer`. Logins `gate` refuses are
  // acknowledged and dropped.
  SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
              AgentRegistry* registry, const Clock* clock,
              Authorizer* authorizer, RateLimiter* limiter,
              UserAddressLimit* user_limit, int push_budget,
              NeverRelayGate* gate, const SyncLimits& limits);
  // After the server has shut down: finishes queued work, joins.
  ~SyncService() override;

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* Sync(
      grpc::CallbackServerContext* context) override;

  // Ends every open stream (UNAVAILABLE, so agents fail over) and refuses
  // new ones; call before Server::Shutdown.
  void Shutdown();

 private:
  struct MergeJob {
    std::vector<Login> logins;
    std::function<void(absl::StatusOr<uint64_t>)> done;
  };

  void Merge(std::vector<Login> logins,
             std::function<void(absl::StatusOr<uint64_t>)> done);
  void Post(std::function<void()> task);
  void Forget(SyncStream* stream);
  // The open streams, each with a reference the caller must drop.
  std::vector<SyncStream*> RefStreams();
  // Group commit: everything queued while the previous commit ran goes
  // into the next one. With `ticks`, also pumps every stream now and then,
  // so a change no publish announced (a store epoch moving) is noticed.
  void MergeLoop(bool ticks);
  void WorkLoop();

  StateWriter* const writer_;
  const SyncLimits limits_;
  PushPacer pacer_;
  SnapshotSlots snapshots_;
  SyncStreamDeps deps_;

  std::mutex mu_;
  std::condition_variable merge_cv_;
  std::condition_variable work_cv_;
  // At most one job per stream: a stream reads its next batch only once
  // its last one is merged (so at most limits_.max_streams jobs).
  std::deque<MergeJob> merges_;                     // guarded by mu_
  std::deque<std::function<void()>> work_;          // guarded by mu_
  std::set<SyncStream*> streams_;                   // guarded by mu_
  std::map<std::string, int> streams_by_identity_;  // guarded by mu_
  bool shutting_down_ = false;                      // guarded by mu_
  bool stopping_ = false;                           // guarded by mu_
  std::vector<std::thread> mergers_;
  std::vector<std::thread> workers_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
