// Coordinator addresses as operators write them: "HOST:PORT[,HOST:PORT...]",
// IPv6 hosts in brackets ("[::1]:7300"), or "unix:/path".
#ifndef RELAYSYNC_RPC_ENDPOINTS_H_
#define RELAYSYNC_RPC_ENDPOINTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/tls.h"

namespace grpc {
class Channel;
}

namespace relaysync {

// Splits and validates a comma-separated list; each element is returned as
// a gRPC target string. InvalidArgument names the bad element.
absl::StatusOr<std::vector<std::string>> ParseEndpoints(absl::string_view list);

// A channel to `target`, mutual TLS from `tls` (or plaintext when
// tls.insecure), with the protocol's message-size limit (kMaxMessageBytes
// in proto/relaysync/v1/limits.h) and keepalive (so a
// dead peer is noticed within ~`keepalive` * 2). With `own_connection` the
// channel shares no connection (subchannel) with other channels to the
// same target: a new channel then makes a new connection attempt instead
// of joining one that may be stuck in TCP's SYN retransmissions (seconds
// apart) since before a partition healed.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           absl::Duration keepalive,
                                           const TlsFiles& tls,
                                           bool own_connection = false);

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_ENDPOINTS_H_
