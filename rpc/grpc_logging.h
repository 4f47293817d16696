// gRPC's own log lines (gpr_log) through common/logging.h, so they carry
// our timestamp and program name. A refused TLS handshake is one of them:
// gRPC 1.51 reports its reason ("peer did not return a certificate",
// "certificate verify failed", "wrong version number") but not the peer's
// address; `on_refused_handshake` gets the reason (e.g. for the audit log).
#ifndef RELAYSYNC_RPC_GRPC_LOGGING_H_
#define RELAYSYNC_RPC_GRPC_LOGGING_H_

#include <functional>

#include "absl/strings/string_view.h"

namespace relaysync {

// Call once in main(), before any gRPC object exists.
void RouteGrpcLogs(std::function<void(absl::string_view reason)>
                       on_refused_handshake = nullptr);

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_GRPC_LOGGING_H_
