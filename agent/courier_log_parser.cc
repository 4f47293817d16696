#include "agent/courier_log_parser.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace relaysync {

LoginVerdict ClassifyCourierMessage(absl::string_view program,
                                    absl::string_view message) {
  LocalLogin::Protocol protocol;
  if (program == "imapd" || program == "imapd-ssl") {
    protocol = LocalLogin::Protocol::kImap;
  } else if (program == "pop3d" || program == "pop3d-ssl") {
    protocol = LocalLogin::Protocol::kPop3;
  } else {
    return LoginVerdict::NotALogin();
  }
  // "LOGIN FAILED, user=..." and, since Courier 5, "LOGIN FAILED,
  // method=PLAIN, user=...".
  if (absl::StartsWith(message, "LOGIN FAILED, ")) {
    return LoginVerdict::Refused("failed login");
  }
  if (!absl::ConsumePrefix(&message, "LOGIN, user=")) {
    return LoginVerdict::NotALogin();
  }
  static constexpr absl::string_view kIp = ", ip=[";
  size_t at = message.rfind(kIp);
  if (at == absl::string_view::npos) {
    return LoginVerdict::Refused("no ip=[...] after the user name");
  }
  absl::string_view user = message.substr(0, at);
  absl::string_view rest = message.substr(at + kIp.size());
  size_t close = rest.find(']');
  if (close == absl::string_view::npos) {
    return LoginVerdict::Refused("no ']' after ip=[");
  }
  absl::string_view tail = rest.substr(close + 1);
  // The server's own fields follow: ", port=[...], protocol=...".
  if (!tail.empty() && !absl::StartsWith(tail, ", ")) {
    return LoginVerdict::Refused("unexpected text after ip=[...]");
  }
  return LoginVerdict::Login(rest.substr(0, close), user, protocol);
}

}  // namespace relaysync
