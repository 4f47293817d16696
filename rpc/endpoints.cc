#include "rpc/endpoints.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

absl::Status Bad(absl::string_view item, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid coordinator address \"", item, "\": ", why));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEndpoints(
    absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) return Bad(item, "empty");
    if (absl::StartsWith(item, "unix:")) {
      if (item.size() <= 5) return Bad(item, "missing socket path");
      out.emplace_back(item);
      continue;
    }
    size_t colon = item.rfind(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Bad(item, "expected HOST:PORT");
    }
    absl::string_view host = item.substr(0, colon);
    absl::string_view port = item.substr(colon + 1);
    int port_number;
    if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 ||
        port_number > 65535) {
      return Bad(item, "port must be 1-65535");
    }
    if (host.find(':') != absl::string_view::npos &&
        !(absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))) {
      return Bad(item, "write IPv6 hosts in brackets, e.g. [::1]:7300");
    }
    out.emplace_back(item);
  }
  return out;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           absl::Duration keepalive,
                                           const TlsFiles& tls,
                                           bool own_connection) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(keepalive)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(keepalive)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after a coordinator restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!tls.server_name.empty()) {
    args.SetSslTargetNameOverride(tls.server_name);
  }
  return grpc::CreateCustomChannel(target, MakeChannelCredentials(tls), args);
}

}  // namespace relaysync
