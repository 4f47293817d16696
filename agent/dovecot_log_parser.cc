#include "agent/dovecot_log_parser.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/address.h"

namespace relaysync {
namespace {

// "imap-login: " or "pop3-login: ".
bool ConsumeLoginProcess(absl::string_view* s, LocalLogin::Protocol* proto) {
  if (absl::ConsumePrefix(s, "imap-login: ")) {
    *proto = LocalLogin::Protocol::kImap;
    return true;
  }
  if (absl::ConsumePrefix(s, "pop3-login: ")) {
    *proto = LocalLogin::Protocol::kPop3;
    return true;
  }
  return false;
}

// Up to the next ',' or the end of the line; false unless an address.
bool ConsumeAddress(absl::string_view* s, absl::string_view* text) {
  size_t end = std::min(s->find(','), s->size());
  *text = s->substr(0, end);
  if (!Address::Parse(*text).ok()) return false;
  s->remove_prefix(end);
  return true;
}

// `s` starts right after "user=<".
LoginVerdict ParseLoginFields(absl::string_view s,
                              LocalLogin::Protocol protocol) {
  static constexpr absl::string_view kUserEnd = ">, method=";
  size_t end = s.rfind(kUserEnd);
  if (end == absl::string_view::npos) {
    return LoginVerdict::Refused("no \">, method=\" after the user name");
  }
  absl::string_view user = s.substr(0, end);
  s.remove_prefix(end + kUserEnd.size());
  size_t method_len = 0;
  while (method_len < s.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(s[method_len])) ||
          s[method_len] == '-')) {
    ++method_len;
  }
  if (method_len == 0) return LoginVerdict::Refused("no method");
  s.remove_prefix(method_len);
  if (!absl::ConsumePrefix(&s, ", rip=")) {
    return LoginVerdict::Refused("no rip= after the method");
  }
  absl::string_view rip, lip;
  if (ConsumeAddress(&s, &rip) &&
      (!absl::ConsumePrefix(&s, ", lip=") || !ConsumeAddress(&s, &lip) ||
       (!s.empty() && s[0] != ','))) {
    return LoginVerdict::Refused("no valid lip= after rip=");
  }
  // Refused, saying why, if rip is not an address.
  return LoginVerdict::Login(rip, user, protocol);
}

// After "imap-login: [Info: ]".
LoginVerdict ClassifyLoginProcessMessage(absl::string_view s,
                                         LocalLogin::Protocol protocol) {
  if (absl::ConsumePrefix(&s, "Login: user=<")) {
    return ParseLoginFields(s, protocol);
  }
  // "Disconnected (auth failed, 1 attempts in 2 secs): user=<...>, ...",
  // "Aborted login (auth failed, ...)", "Login aborted: ... (auth failed".
  if (absl::StrContains(s, "(auth failed")) {
    return LoginVerdict::Refused("failed login");
  }
  return LoginVerdict::NotALogin();
}

}  // namespace

LoginVerdict ClassifyDovecotMessage(absl::string_view program,
                                    absl::string_view message) {
  LocalLogin::Protocol protocol;
  if (program != "dovecot" || !ConsumeLoginProcess(&message, &protocol)) {
    return LoginVerdict::NotALogin();
  }
  absl::ConsumePrefix(&message, "Info: ");
  return ClassifyLoginProcessMessage(message, protocol);
}

std::optional<LoginVerdict> ClassifyDovecotOwnLog(absl::string_view rest) {
  LocalLogin::Protocol protocol;
  if (!ConsumeLoginProcess(&rest, &protocol)) return std::nullopt;
  // Dovecot's own file always names the level.
  if (!absl::ConsumePrefix(&rest, "Info: ")) return LoginVerdict::NotALogin();
  return ClassifyLoginProcessMessage(rest, protocol);
}

std::optional<LocalLogin> ParseDovecotLoginLine(absl::string_view line,
                                                absl::Time now,
                                                absl::TimeZone tz,
                                                DovecotLineForm* form) {
  const LogFormat* dovecot = FindLogFormat("dovecot");
  LogLineVerdict v = ClassifyLogLine(line, {&dovecot, 1}, now, tz);
  if (v.verdict.kind != LoginVerdict::Kind::kLogin) return std::nullopt;
  if (form != nullptr) *form = v.form;
  return std::move(v.verdict.login);
}

}  // namespace relaysync
