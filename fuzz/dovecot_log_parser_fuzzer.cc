// Fuzz target: ParseDovecotLoginLine (agent/dovecot_log_parser.h), which
// reads log text that is partly attacker-controlled (user names). Asserts,
// for every line it accepts: a canonical address, a user within limits, no
// time after `now`, no control character in the line; that the address and
// time do not depend on the user name (the same line with the user replaced
// by "u" gives the same login: nothing inside user=<...> can choose the
// granted address); and that a clean Dovecot line rebuilt from the login
// parses back to it.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "agent/dovecot_log_parser.h"
#include "common/address.h"
#include "fuzz/fuzz_util.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2026, 11, 25, 12, 0, 0), absl::UTCTimeZone());

void CheckLogin(absl::string_view line, const LocalLogin& login) {
  absl::StatusOr<Address> address = Address::Parse(login.address);
  FUZZ_CHECK(address.ok() && address->ToString() == login.address, line);
  FUZZ_CHECK(!login.user.empty() && login.user.size() <= kMaxTextField, line);
  FUZZ_CHECK(login.login_time <= absl::ToUnixSeconds(kNow), line);
  FUZZ_CHECK(login.protocol != LocalLogin::Protocol::kUnknown, line);
  FUZZ_CHECK(login.source == "log", line);
  absl::string_view body = line;
  absl::ConsumeSuffix(&body, "\r");  // the one control character allowed
  for (char c : body) {
    FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, line);
  }

  // The user field is "user=<" + login.user + ">, method=" in the line.
  const std::string field = absl::StrCat("user=<", login.user, ">, method=");
  size_t at = line.rfind(field);
  FUZZ_CHECK(at != absl::string_view::npos, line);
  const std::string benign = absl::StrCat(
      line.substr(0, at), "user=<u>, method=", line.substr(at + field.size()));
  std::optional<LocalLogin> other =
      ParseDovecotLoginLine(benign, kNow, absl::UTCTimeZone());
  FUZZ_CHECK(other.has_value(), benign);
  FUZZ_CHECK(other->address == login.address, benign);
  FUZZ_CHECK(other->login_time == login.login_time, benign);
  FUZZ_CHECK(other->protocol == login.protocol, benign);

  // A clean line in Dovecot's own format, rebuilt from the login (only for
  // times a year-less stamp can express: within the last 300 days).
  if (login.login_time < absl::ToUnixSeconds(kNow - absl::Hours(24 * 300))) {
    return;
  }
  const std::string rebuilt = absl::StrCat(
      absl::FormatTime("%b %d %H:%M:%S ",
                       absl::FromUnixSeconds(login.login_time),
                       absl::UTCTimeZone()),
      ProtocolName(login.protocol), "-login: Info: Login: user=<", login.user,
      ">, method=PLAIN, rip=", login.address, ", lip=192.0.2.1, mpid=1");
  std::optional<LocalLogin> back =
      ParseDovecotLoginLine(rebuilt, kNow, absl::UTCTimeZone());
  FUZZ_CHECK(back.has_value() && *back == login, rebuilt);
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view line = relaysync::fuzz::AsText(data, size);
  std::optional<relaysync::LocalLogin> login = relaysync::ParseDovecotLoginLine(
      line, relaysync::kNow, absl::UTCTimeZone());
  if (login.has_value()) relaysync::CheckLogin(line, *login);
  return 0;
}
