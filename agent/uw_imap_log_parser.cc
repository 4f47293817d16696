#include "agent/uw_imap_log_parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// Removes what c-client writes after "host=...": " nmsgs=N/M" or
// " no mailbox" (ipop3d), " mech=M" (imapd's AUTHENTICATE).
void StripServerTail(absl::string_view* s) {
  if (absl::ConsumeSuffix(s, " no mailbox")) return;
  size_t at = s->rfind(" nmsgs=");
  if (at != absl::string_view::npos) {
    absl::string_view counts = s->substr(at + 7);
    size_t slash = counts.find('/');
    if (slash != absl::string_view::npos && IsDigits(counts.substr(0, slash)) &&
        IsDigits(counts.substr(slash + 1))) {
      s->remove_suffix(s->size() - at);
      return;
    }
  }
  at = s->rfind(" mech=");
  if (at != absl::string_view::npos &&
      s->find_first_of(" []", at + 6) == absl::string_view::npos) {
    s->remove_suffix(s->size() - at);
  }
}

// What c-client's servers log when a session ends, each followed by
// " user=U host=H": "Logout", "Autologout", "Killed (lost mailbox lock)"
// and "<reason>, while reading line" / "<reason>, while writing text"
// (a broken connection). The process ends with the session: the key is the
// pid (LogFormat::session_is_process), so the user is taken up to the LAST
// " host=" and compared with the login's by the tracker.
LoginVerdict ClassifySessionEnd(absl::string_view message) {
  static constexpr absl::string_view kUser = " user=";
  size_t at = message.find(kUser);
  if (at == absl::string_view::npos) return LoginVerdict::NotALogin();
  absl::string_view what = message.substr(0, at);
  if (what != "Logout" && what != "Autologout" &&
      what != "Killed (lost mailbox lock)" &&
      !absl::EndsWith(what, ", while reading line") &&
      !absl::EndsWith(what, ", while writing text")) {
    return LoginVerdict::NotALogin();
  }
  absl::string_view rest = message.substr(at + kUser.size());
  size_t host = rest.rfind(" host=");
  if (host == absl::string_view::npos || host == 0) {
    return LoginVerdict::NotALogin();
  }
  return LoginVerdict::SessionEnd(rest.substr(0, host), "");
}

}  // namespace

LoginVerdict ClassifyUwImapMessage(absl::string_view program,
                                   absl::string_view message) {
  LocalLogin::Protocol protocol;
  if (program == "imapd") {
    protocol = LocalLogin::Protocol::kImap;
  } else if (program == "ipop3d") {
    protocol = LocalLogin::Protocol::kPop3;
  } else {
    return LoginVerdict::NotALogin();
  }
  if (absl::StartsWith(message, "Login failed user=") ||
      absl::StartsWith(message, "Login failure user=") ||
      (absl::StartsWith(message, "AUTHENTICATE ") &&
       absl::StrContains(message, " failure host="))) {
    return LoginVerdict::Refused("failed login");
  }
  if (!absl::ConsumePrefix(&message, "Login user=") &&
      !absl::ConsumePrefix(&message, "Authenticated user=") &&
      !absl::ConsumePrefix(&message, "Auth user=") &&
      !absl::ConsumePrefix(&message, "APOP user=") &&
      !absl::ConsumePrefix(&message, "Admin Login user=")) {
    return ClassifySessionEnd(message);
  }
  StripServerTail(&message);
  // "... host=[IP]" or "... host=NAME [IP]".
  size_t open = message.rfind('[');
  if (!absl::ConsumeSuffix(&message, "]") || open == absl::string_view::npos) {
    return LoginVerdict::Refused("no host=[address] at the end");
  }
  absl::string_view address = message.substr(open + 1);
  absl::string_view before = message.substr(0, open);
  if (!absl::ConsumeSuffix(&before, " host=")) {
    // A reverse-DNS name: one token between " host=" and " [".
    size_t at = before.rfind(" host=");
    if (!absl::ConsumeSuffix(&before, " ") || at == absl::string_view::npos ||
        at + 6 >= before.size() ||
        before.find_first_of(" []", at + 6) != absl::string_view::npos) {
      return LoginVerdict::Refused("no host=[address] at the end");
    }
    before.remove_suffix(before.size() - at);
  }
  return LoginVerdict::Login(address, before, protocol);
}

}  // namespace relaysync
