// The one place where absl::Status and grpc::Status are translated.
#ifndef RELAYSYNC_RPC_GRPC_STATUS_H_
#define RELAYSYNC_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace relaysync {

grpc::Status ToGrpcStatus(const absl::Status& status);

// `peer` names the other side in the message ("coordinator 10.0.0.1:7300").
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view peer);

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_GRPC_STATUS_H_
