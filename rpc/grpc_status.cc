#include "rpc/grpc_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace relaysync {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view peer) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("cannot reach ", peer, ": ", message);
    if (absl::StrContains(message, "Socket closed") ||
        absl::StrContains(message, "andshake")) {
      // What a client sees when the coordinator refuses its TLS.
      absl::StrAppend(&message,
                      " (the coordinator closed the connection: does it "
                      "trust the CA of your certificate, is the certificate "
                      "unexpired, and do both sides use TLS, or both "
                      "--insecure?)");
    }
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = absl::StrCat(peer, " did not answer in time: ", message);
  } else {
    message = absl::StrCat(peer, ": ", message);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

}  // namespace relaysync
