// Fuzz target: ClassifyLogLine (agent/log_format.h) with every log format
// (--log-format=auto): Dovecot, Courier, Cyrus, qpopper and UW-IMAP, whose
// lines are partly attacker-controlled (user names). Asserts, for every
// line: at most one format recognizes it, alone, and `auto` names that one
// (so `auto` does not depend on the order of the table); a refusal names
// its format and a reason. For a login: a canonical address, a user
// within limits, no time after `now`, a known protocol, a line of at most
// kMaxLoginLineBytes without control characters; the user name does not
// choose the address (the same line with the user replaced by "u" gives the
// same login); and a clean line of the format rebuilt from the login
// parses back to it. A login's session key and a session end's are the
// format's (they start with its name); a session end has a user within
// limits and comes from a line a login would be believed from.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "agent/log_format.h"
#include "common/address.h"
#include "fuzz/fuzz_util.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2026, 11, 25, 12, 0, 0), absl::UTCTimeZone());

const std::vector<const LogFormat*>& Formats() {
  static const auto* formats =
      new std::vector<const LogFormat*>(*LogFormatsFromFlag("auto"));
  return *formats;
}

LogLineVerdict Classify(absl::string_view line,
                        absl::Span<const LogFormat* const> formats) {
  return ClassifyLogLine(line, formats, kNow, absl::UTCTimeZone());
}

bool SameLogin(const LogLineVerdict& a, const LogLineVerdict& b) {
  return b.verdict.kind == LoginVerdict::Kind::kLogin &&
         a.verdict.login.address == b.verdict.login.address &&
         a.verdict.login.login_time == b.verdict.login.login_time &&
         a.verdict.login.protocol == b.verdict.login.protocol &&
         a.format == b.format && a.form == b.form;
}

// A clean line of `format` for `login` (classic stamp, host "mx").
std::string Rebuilt(const LogFormat& format, const LocalLogin& login) {
  const std::string stamp = absl::FormatTime(
      "%b %d %H:%M:%S ", absl::FromUnixSeconds(login.login_time),
      absl::UTCTimeZone());
  const bool imap = login.protocol == LocalLogin::Protocol::kImap;
  const std::string& u = login.user;
  const std::string& a = login.address;
  if (format.name == "dovecot") {
    return absl::StrCat(stamp, imap ? "imap" : "pop3",
                        "-login: Info: Login: user=<", u,
                        ">, method=PLAIN, rip=", a, ", lip=192.0.2.1, mpid=1");
  }
  if (format.name == "courier") {
    return absl::StrCat(stamp, "mx ", imap ? "imapd" : "pop3d",
                        ": LOGIN, user=", u, ", ip=[", a,
                        "], port=[1], protocol=X");
  }
  if (format.name == "cyrus") {
    return absl::StrCat(stamp, "mx cyrus/", imap ? "imap" : "pop3",
                        "[1]: login: [", a, "] ", u,
                        " plaintext User logged in");
  }
  if (format.name == "qpopper") {
    return absl::StrCat(stamp, "mx qpopper[1]: (v4.1.0) POP login by user \"",
                        u, "\" at (h) ", a);
  }
  return absl::StrCat(stamp, "mx ", imap ? "imapd" : "ipop3d",
                      "[1]: Login user=", u, " host=[", a, "]");
}

void CheckLogin(absl::string_view line, const LogLineVerdict& v) {
  const LocalLogin& login = v.verdict.login;
  absl::StatusOr<Address> address = Address::Parse(login.address);
  FUZZ_CHECK(address.ok() && address->ToString() == login.address, line);
  FUZZ_CHECK(!login.user.empty() && login.user.size() <= kMaxTextField, line);
  FUZZ_CHECK(login.login_time <= absl::ToUnixSeconds(kNow), line);
  FUZZ_CHECK(login.protocol != LocalLogin::Protocol::kUnknown, line);
  FUZZ_CHECK(login.source == "log", line);
  absl::string_view body = line;
  absl::ConsumeSuffix(&body, "\r");
  FUZZ_CHECK(body.size() <= kMaxLoginLineBytes && !HasControlChars(body), line);

  // Some occurrence of the user name is the user field: "u" there gives
  // the same login.
  bool found = false;
  for (size_t at = line.find(login.user); !found && at != line.npos;
       at = line.find(login.user, at + 1)) {
    const std::string benign = absl::StrCat(
        line.substr(0, at), "u", line.substr(at + login.user.size()));
    LogLineVerdict other = Classify(benign, Formats());
    found = SameLogin(v, other) && other.verdict.login.user == "u";
  }
  FUZZ_CHECK(found, line);

  // Only for times a year-less stamp can express: the last 300 days.
  if (login.login_time < absl::ToUnixSeconds(kNow - absl::Hours(24 * 300))) {
    return;
  }
  const std::string rebuilt = Rebuilt(*v.format, login);
  LogLineVerdict back = Classify(rebuilt, Formats());
  FUZZ_CHECK(back.verdict.kind == LoginVerdict::Kind::kLogin &&
                 back.format == v.format && back.verdict.login == login,
             rebuilt);
}

// A key names its format, so keys of two formats never meet.
void CheckSessionKey(absl::string_view line, const LogLineVerdict& v) {
  if (v.verdict.session.empty()) return;
  FUZZ_CHECK(
      absl::StartsWith(v.verdict.session, absl::StrCat(v.format->name, " ")) &&
          v.verdict.session.size() > v.format->name.size() + 1,
      line);
}

void CheckSessionEnd(absl::string_view line, const LogLineVerdict& v) {
  FUZZ_CHECK(!v.verdict.session.empty(), line);
  CheckSessionKey(line, v);
  const std::string& user = v.verdict.login.user;
  FUZZ_CHECK(!user.empty() && user.size() <= kMaxTextField, line);
  absl::string_view body = line;
  absl::ConsumeSuffix(&body, "\r");
  FUZZ_CHECK(body.size() <= kMaxLoginLineBytes && !HasControlChars(body), line);
}

void Check(absl::string_view line) {
  LogLineVerdict v = Classify(line, Formats());
  // Each format alone: at most one recognizes the line, and it is the one
  // `auto` names.
  const LogFormat* only = nullptr;
  for (const LogFormat* f : Formats()) {
    if (Classify(line, {&f, 1}).verdict.kind ==
        LoginVerdict::Kind::kNotALogin) {
      continue;
    }
    FUZZ_CHECK(only == nullptr, line);
    only = f;
  }
  FUZZ_CHECK(v.format == only, line);
  if (v.verdict.kind == LoginVerdict::Kind::kNotALogin) return;
  if (v.verdict.kind == LoginVerdict::Kind::kRefused) {
    FUZZ_CHECK(!v.verdict.reason.empty(), line);
    return;
  }
  if (v.verdict.kind == LoginVerdict::Kind::kSessionEnd) {
    CheckSessionEnd(line, v);
    return;
  }
  CheckSessionKey(line, v);
  CheckLogin(line, v);
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relaysync::Check(relaysync::fuzz::AsText(data, size));
  return 0;
}
