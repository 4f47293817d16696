#include "agent/qpopper_log_parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

bool AllOf(absl::string_view s, bool (*ok)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

// " [pop_log.c:244]", which debug builds append to every line.
void StripSourceLocation(absl::string_view* s) {
  if (!absl::EndsWith(*s, "]")) return;
  size_t open = s->rfind(" [");
  if (open == absl::string_view::npos) return;
  absl::string_view where = s->substr(open + 2, s->size() - open - 3);
  size_t colon = where.find(".c:");
  if (colon == absl::string_view::npos) return;
  if (!AllOf(where.substr(0, colon),
             [](char c) {
               return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                      c == '_';
             }) ||
      !AllOf(where.substr(colon + 3), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return;
  }
  s->remove_suffix(s->size() - open);
}

}  // namespace

LoginVerdict ClassifyQpopperMessage(absl::string_view program,
                                    absl::string_view message) {
  if (program != "qpopper" && program != "in.qpopper" && program != "popper") {
    return LoginVerdict::NotALogin();
  }
  // "alice at client.example.org (192.0.2.1): -ERR [AUTH] Password supplied
  // for \"alice\" is incorrect."
  if (absl::StrContains(message, ": -ERR [AUTH] ")) {
    return LoginVerdict::Refused("failed login");
  }
  // "(v4.0.9) "
  if (!absl::ConsumePrefix(&message, "(v")) return LoginVerdict::NotALogin();
  size_t version_end = message.find(") ");
  if (version_end == absl::string_view::npos ||
      !AllOf(message.substr(0, version_end), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
               c == '-';
      })) {
    return LoginVerdict::NotALogin();
  }
  message.remove_prefix(version_end + 2);
  if (!absl::ConsumePrefix(&message, "POP login by user \"")) {
    return LoginVerdict::NotALogin();
  }
  StripSourceLocation(&message);
  static constexpr absl::string_view kAt = "\" at (";
  size_t at = message.rfind(kAt);
  if (at == absl::string_view::npos) {
    return LoginVerdict::Refused("no \" at (host) address\" after the user");
  }
  absl::string_view user = message.substr(0, at);
  absl::string_view rest = message.substr(at + kAt.size());
  size_t close = rest.find(") ");
  if (close == absl::string_view::npos ||
      rest.substr(0, close).find_first_of(" ()") != absl::string_view::npos) {
    return LoginVerdict::Refused("no (host) before the address");
  }
  return LoginVerdict::Login(rest.substr(close + 2), user,
                             LocalLogin::Protocol::kPop3);
}

}  // namespace relaysync
