#include "rpc/grpc_logging.h"

#include <grpc/support/log.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace relaysync {
namespace {

// Set once before gRPC starts, read-only afterwards.
std::function<void(absl::string_view)>* refused_handshake = nullptr;

void Route(gpr_log_func_args* args) {
  absl::string_view message = args->message;
  if (absl::StartsWith(message, "Handshake failed with fatal error")) {
    // The server refused a client's TLS (or a plaintext client).
    LogWarning("refused TLS handshake (gRPC does not report the peer): ",
               message);
    if (refused_handshake != nullptr) (*refused_handshake)(message);
    return;
  }
  // GPR_LOG_SEVERITY_DEBUG and INFO appear only when GRPC_VERBOSITY asks
  // for them: information, not warnings.
  const LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR
                             ? LogLevel::kError
                             : LogLevel::kInfo;
  LogLine(level, absl::StrCat("grpc: ", message));
}

}  // namespace

void RouteGrpcLogs(std::function<void(absl::string_view)> on_refused) {
  if (on_refused) {
    refused_handshake =
        new std::function<void(absl::string_view)>(std::move(on_refused));
  }
  gpr_set_log_function(Route);
}

}  // namespace relaysync
