#include "agent/dovecot_log_parser.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// Dovecot's session ids: base64 of a few bytes ("Oxv8BqVhfuZ/AAAB").
bool IsSessionId(absl::string_view id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '+' || c == '/' || c == '=';
         });
}

// "session=<ID>" among the fields that follow lip= (all server-written),
// as the key of a session: the mail process's log prefix names it too.
std::string SessionField(absl::string_view tail) {
  static constexpr absl::string_view kSession = ", session=<";
  size_t at = tail.find(kSession);
  if (at == absl::string_view::npos) return "";
  tail.remove_prefix(at + kSession.size());
  absl::string_view id = tail.substr(0, tail.find('>'));
  if (id.size() == tail.size() || !IsSessionId(id)) return "";
  return absl::StrCat("session=<", id, ">");
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
  LoginVerdict v = LoginVerdict::Login(rip, user, protocol);
  if (v.kind == LoginVerdict::Kind::kLogin) v.session = SessionField(s);
  return v;
}

// What a mail process logs when its session ends: "Disconnected: Logged
// out ...", "Disconnected: Connection closed (...)" (2.3), "Logged out
// ...", "Connection closed ...", "Disconnected for inactivity ..." and
// "Server shutting down." (2.2).
bool IsSessionEndMessage(absl::string_view s) {
  return absl::StartsWith(s, "Disconnected") ||
         absl::StartsWith(s, "Logged out") ||
         absl::StartsWith(s, "Connection closed") ||
         absl::StartsWith(s, "Server shutting down");
}

// After "imap(" or "pop3(": "USER)<PID><SESSION>: " (mail_log_prefix's
// default since 2.3), then the message. The user name is not escaped, so
// the prefix is the LAST ")<PID><SESSION>: " (the server's message that
// follows has none). `own_log`: "Info: " is required before the message.
LoginVerdict ClassifyMailProcessMessage(absl::string_view s, bool own_log) {
  size_t end = absl::string_view::npos;
  absl::string_view session;
  for (size_t at = s.find(")<"); at != absl::string_view::npos;
       at = s.find(")<", at + 1)) {
    absl::string_view rest = s.substr(at + 2);
    size_t digits = 0;
    while (digits < rest.size() && digits <= 10 &&
           absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
      ++digits;
    }
    if (digits == 0 || digits > 10) continue;
    rest.remove_prefix(digits);
    if (!absl::ConsumePrefix(&rest, "><")) continue;
    size_t close = rest.find(">: ");
    if (close == absl::string_view::npos ||
        !IsSessionId(rest.substr(0, close))) {
      continue;
    }
    end = at;
    session = rest.substr(0, close);
  }
  if (end == absl::string_view::npos) return LoginVerdict::NotALogin();
  absl::string_view user = s.substr(0, end);
  absl::string_view message = s.substr(s.find(">: ", end) + 3);
  if (!absl::ConsumePrefix(&message, "Info: ") && own_log) {
    return LoginVerdict::NotALogin();
  }
  if (!IsSessionEndMessage(message) || user.empty()) {
    return LoginVerdict::NotALogin();
  }
  return LoginVerdict::SessionEnd(user,
                                  absl::StrCat("session=<", session, ">"));
}

// "imap(" or "pop3(": a mail process (after the login), whose lines say
// when the session ends.
bool ConsumeMailProcess(absl::string_view* s) {
  return absl::ConsumePrefix(s, "imap(") || absl::ConsumePrefix(s, "pop3(");
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
  if (program != "dovecot") return LoginVerdict::NotALogin();
  if (ConsumeMailProcess(&message)) {
    return ClassifyMailProcessMessage(message, /*own_log=*/false);
  }
  if (!ConsumeLoginProcess(&message, &protocol)) {
    return LoginVerdict::NotALogin();
  }
  absl::ConsumePrefix(&message, "Info: ");
  return ClassifyLoginProcessMessage(message, protocol);
}

std::optional<LoginVerdict> ClassifyDovecotOwnLog(absl::string_view rest) {
  LocalLogin::Protocol protocol;
  if (ConsumeMailProcess(&rest)) {
    // Only a session end, and only of a user without a space: then the
    // line's first word ends with ':' and is no syslog host, so no other
    // format can read the line as its own (a user "a imapd: LOGIN, ..."
    // could otherwise make one line both). Anything else is not in this
    // file's form.
    LoginVerdict v = ClassifyMailProcessMessage(rest, /*own_log=*/true);
    if (v.kind != LoginVerdict::Kind::kSessionEnd ||
        absl::StrContains(v.login.user, ' ')) {
      return std::nullopt;
    }
    return v;
  }
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
