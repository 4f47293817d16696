// The RelaySync service: one bidirectional stream per agent. Reads hello and
// login batches, merges them through the StateWriter and acknowledges them
// once durable; a per-stream sender thread pushes a snapshot or deltas.
#ifndef RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
#define RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_

#include <atomic>

#include "backends/store.h"
#include "common/clock.h"
#include "coordinator/agent_registry.h"
#include "coordinator/change_hub.h"
#include "coordinator/state_writer.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

namespace relaysync {

class SyncService final : public v1::RelaySync::Service {
 public:
  // None owned; all must outlive the service.
  SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
              AgentRegistry* registry, const Clock* clock);

  grpc::Status Sync(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>*
          stream) override;

  // Makes every open stream end promptly (before Server::Shutdown).
  void Shutdown() { shutting_down_ = true; }

 private:
  class Stream;

  Store* const store_;
  ChangeHub* const hub_;
  StateWriter* const writer_;
  AgentRegistry* const registry_;
  const Clock* const clock_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_SERVICE_H_
