#include "agent/cyrus_log_parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

// "cyrus/imap", "cyrus/imaps", "cyrus/pop3s", ...
bool CyrusService(absl::string_view program, LocalLogin::Protocol* protocol) {
  if (!absl::ConsumePrefix(&program, "cyrus/")) return false;
  if (absl::StartsWith(program, "imap")) {
    *protocol = LocalLogin::Protocol::kImap;
  } else if (absl::StartsWith(program, "pop3")) {
    *protocol = LocalLogin::Protocol::kPop3;
  } else {
    return false;
  }
  return std::all_of(program.begin(), program.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c));
  });
}

// "User logged in" and, since Cyrus 2.5, " SESSIONID=<...>" after it.
bool EndsTheLoginLine(absl::string_view tail) {
  if (tail.empty()) return true;
  if (!absl::ConsumePrefix(&tail, " SESSIONID=<") ||
      !absl::ConsumeSuffix(&tail, ">")) {
    return false;
  }
  return tail.find_first_of(" <>") == absl::string_view::npos;
}

}  // namespace

LoginVerdict ClassifyCyrusMessage(absl::string_view program,
                                  absl::string_view message) {
  LocalLogin::Protocol protocol;
  if (!CyrusService(program, &protocol)) return LoginVerdict::NotALogin();
  if (absl::StartsWith(message, "badlogin: ")) {
    return LoginVerdict::Refused("failed login");
  }
  if (!absl::ConsumePrefix(&message, "login: ")) {
    return LoginVerdict::NotALogin();
  }
  // "[IP] " or "NAME [IP] ".
  if (!absl::StartsWith(message, "[")) {
    size_t space = message.find(' ');
    if (space == absl::string_view::npos) {
      return LoginVerdict::Refused("no client address");
    }
    message.remove_prefix(space + 1);
  }
  size_t close = message.find("] ");
  if (!absl::ConsumePrefix(&message, "[") || close == absl::string_view::npos) {
    return LoginVerdict::Refused("no [address] after the client's name");
  }
  absl::string_view address = message.substr(0, close - 1);
  message.remove_prefix(close + 1);
  // "USER MECH[+TLS] User logged in[ SESSIONID=<...>]"
  static constexpr absl::string_view kLoggedIn = " User logged in";
  size_t at = message.rfind(kLoggedIn);
  if (at == absl::string_view::npos ||
      !EndsTheLoginLine(message.substr(at + kLoggedIn.size()))) {
    return LoginVerdict::Refused("not \"User logged in\"");
  }
  absl::string_view user_and_mech = message.substr(0, at);
  size_t space = user_and_mech.rfind(' ');
  if (space == absl::string_view::npos || space + 1 == user_and_mech.size()) {
    return LoginVerdict::Refused("no user name and mechanism");
  }
  return LoginVerdict::Login(address, user_and_mech.substr(0, space), protocol);
}

}  // namespace relaysync
