// The Admin service behind `vsmtprelay --coordinator=...`: add, delete,
// expire, list/dump and status, cluster-wide. Add, Delete and Expire need
// the admin role, List and Status the reader role; every change is audited.
#ifndef RELAYSYNC_COORDINATOR_ADMIN_SERVICE_H_
#define RELAYSYNC_COORDINATOR_ADMIN_SERVICE_H_

#include "backends/store/store.h"
#include "common/clock.h"
#include "common/never_relay_gate.h"
#include "coordinator/agent_registry.h"
#include "coordinator/authorizer.h"
#include "coordinator/change_hub.h"
#include "coordinator/state_writer.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

namespace relaysync {

class AdminService final : public v1::Admin::Service {
 public:
  // None owned; all must outlive the service. Add refuses what `gate`
  // refuses (INVALID_ARGUMENT); Status reports its count.
  AdminService(Store* store, StateWriter* writer, AgentRegistry* registry,
               const Clock* clock, Authorizer* authorizer,
               NeverRelayGate* gate);

  grpc::Status Add(grpc::ServerContext* context, const v1::AddRequest* request,
                   v1::AddResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context,
                      const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status Expire(grpc::ServerContext* context,
                      const v1::ExpireRequest* request,
                      v1::ExpireResponse* response) override;
  grpc::Status List(grpc::ServerContext* context,
                    const v1::ListRequest* request,
                    grpc::ServerWriter<v1::ListResponse>* writer) override;
  grpc::Status Status(grpc::ServerContext* context,
                      const v1::StatusRequest* request,
                      v1::StatusResponse* response) override;

 private:
  Store* const store_;
  StateWriter* const writer_;
  AgentRegistry* const registry_;
  const Clock* const clock_;
  Authorizer* const authorizer_;
  NeverRelayGate* const gate_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_ADMIN_SERVICE_H_
