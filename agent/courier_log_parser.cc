#include "agent/courier_log_parser.h"

#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/address.h"

namespace relaysync {
namespace {

// `tail` follows "ip=[ADDRESS]": ", port=[PORT]" and the server's other
// fields. The session key, "ip=[CANONICAL] port=[PORT]", or "" when there
// is no port (Courier before 4.x): an address alone is not a connection.
std::string SessionKey(absl::string_view address, absl::string_view tail) {
  if (!absl::ConsumePrefix(&tail, ", port=[")) return "";
  size_t close = tail.find(']');
  absl::string_view port = tail.substr(0, close);
  if (close == absl::string_view::npos || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return "";
  }
  absl::StatusOr<Address> parsed = Address::Parse(address);
  if (!parsed.ok()) return "";
  return absl::StrCat("ip=[", parsed->ToString(), "] port=[", port, "]");
}

// "LOGOUT, user=...", "DISCONNECTED, user=...", "TIMEOUT, user=..." and
// "Disconnected during shutdown by signal, user=...", then ", ip=[...],
// port=[...]" and counters: the end of the session of that connection. The
// user is what lies before the LAST ", ip=[".
LoginVerdict ClassifySessionEnd(absl::string_view message) {
  if (!absl::ConsumePrefix(&message, "LOGOUT, user=") &&
      !absl::ConsumePrefix(&message, "DISCONNECTED, user=") &&
      !absl::ConsumePrefix(&message, "TIMEOUT, user=") &&
      !absl::ConsumePrefix(&message,
                           "Disconnected during shutdown by signal, user=")) {
    return LoginVerdict::NotALogin();
  }
  static constexpr absl::string_view kIp = ", ip=[";
  size_t at = message.rfind(kIp);
  if (at == absl::string_view::npos || at == 0) {
    return LoginVerdict::NotALogin();
  }
  absl::string_view rest = message.substr(at + kIp.size());
  size_t close = rest.find(']');
  if (close == absl::string_view::npos) return LoginVerdict::NotALogin();
  std::string key = SessionKey(rest.substr(0, close), rest.substr(close + 1));
  if (key.empty()) return LoginVerdict::NotALogin();
  return LoginVerdict::SessionEnd(message.substr(0, at), key);
}

}  // namespace

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
    return ClassifySessionEnd(message);
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
  LoginVerdict v = LoginVerdict::Login(rest.substr(0, close), user, protocol);
  if (v.kind == LoginVerdict::Kind::kLogin) {
    v.session = SessionKey(rest.substr(0, close), tail);
  }
  return v;
}

}  // namespace relaysync
