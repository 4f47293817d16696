#include "agent/log_line.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/address.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

// Consumes exactly `n` ASCII digits.
bool ConsumeDigits(absl::string_view* s, size_t n, int* value) {
  if (s->size() < n) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>((*s)[i]))) {
      return false;
    }
    v = v * 10 + ((*s)[i] - '0');
  }
  s->remove_prefix(n);
  *value = v;
  return true;
}

struct ClassicStamp {
  int month, day, hour, minute, second;
};

// "Nov 25 04:25:38 ": RFC 3164 pads the day with a space ("Nov  5"),
// Dovecot's log_timestamp ("%b %d") with a zero; both are accepted.
bool ConsumeClassicStamp(absl::string_view* s, ClassicStamp* out) {
  static constexpr absl::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                                  "May", "Jun", "Jul", "Aug",
                                                  "Sep", "Oct", "Nov", "Dec"};
  out->month = 0;
  for (int i = 0; i < 12; ++i) {
    if (absl::StartsWith(*s, kMonths[i])) out->month = i + 1;
  }
  if (out->month == 0) return false;
  s->remove_prefix(3);
  if (!absl::ConsumePrefix(s, " ")) return false;
  bool day_ok = absl::ConsumePrefix(s, " ") ? ConsumeDigits(s, 1, &out->day)
                                            : ConsumeDigits(s, 2, &out->day);
  return day_ok && out->day >= 1 && out->day <= 31 &&
         absl::ConsumePrefix(s, " ") && ConsumeDigits(s, 2, &out->hour) &&
         out->hour < 24 && absl::ConsumePrefix(s, ":") &&
         ConsumeDigits(s, 2, &out->minute) && out->minute < 60 &&
         absl::ConsumePrefix(s, ":") && ConsumeDigits(s, 2, &out->second) &&
         out->second < 60 && absl::ConsumePrefix(s, " ");
}

// Places a year-less stamp in the year that is not (much) in the future.
std::optional<absl::Time> ResolveClassicStamp(const ClassicStamp& st,
                                              absl::Time now,
                                              absl::TimeZone tz) {
  const absl::civil_year_t this_year = tz.At(now).cs.year();
  for (absl::civil_year_t year : {this_year, this_year - 1}) {
    absl::CivilSecond cs(year, st.month, st.day, st.hour, st.minute, st.second);
    // Feb 29 of a non-leap year, Apr 31, ...: normalized away, not a date.
    if (cs.month() != st.month || cs.day() != st.day) continue;
    absl::Time t = absl::FromCivil(cs, tz);
    if (t <= now + absl::Hours(24)) return std::min(t, now);
  }
  return std::nullopt;
}

// "2026-11-25T04:28:35.123456+00:00 " (rsyslog's RSYSLOG_FileFormat).
bool ConsumeRfc3339Stamp(absl::string_view* s, absl::Time* out) {
  size_t space = s->find(' ');
  if (space == absl::string_view::npos || space < 20) return false;
  absl::string_view token = s->substr(0, space);
  // Shape check first: absl::ParseTime is lenient (signs, digit counts).
  static constexpr absl::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  for (size_t i = 0; i < kShape.size(); ++i) {
    bool ok = kShape[i] == 'd'
                  ? absl::ascii_isdigit(static_cast<unsigned char>(token[i]))
                  : token[i] == kShape[i];
    if (!ok) return false;
  }
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, token, out, &err)) return false;
  s->remove_prefix(space + 1);
  return true;
}

bool IsProgramChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '/' || c == '-';
}

}  // namespace

bool HasControlChars(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

LoginVerdict LoginVerdict::Refused(std::string reason) {
  LoginVerdict v;
  v.kind = Kind::kRefused;
  v.reason = std::move(reason);
  return v;
}

LoginVerdict LoginVerdict::Login(absl::string_view address_text,
                                 absl::string_view user,
                                 LocalLogin::Protocol protocol) {
  absl::StatusOr<Address> address = Address::Parse(address_text);
  if (!address.ok()) {
    return Refused(
        absl::StrCat("address not valid (", address.status().message(), ")"));
  }
  if (user.empty()) return Refused("empty user name");
  if (user.size() > kMaxTextField) {
    return Refused(absl::StrCat("user name over ", kMaxTextField, " bytes"));
  }
  LoginVerdict v;
  v.kind = Kind::kLogin;
  v.login.address = address->ToString();
  v.login.user = std::string(user);
  v.login.protocol = protocol;
  return v;
}

LoginVerdict LoginVerdict::SessionEnd(absl::string_view user,
                                      absl::string_view session) {
  LoginVerdict v;
  v.kind = Kind::kSessionEnd;
  v.login.user = std::string(user.substr(0, kMaxTextField));
  v.session = std::string(session);
  return v;
}

bool ConsumeLogTimestamp(absl::string_view* s, absl::Time now,
                         absl::TimeZone tz, absl::Time* when, bool* classic) {
  absl::string_view rest = *s;
  ClassicStamp stamp;
  if (ConsumeClassicStamp(&rest, &stamp)) {
    std::optional<absl::Time> resolved = ResolveClassicStamp(stamp, now, tz);
    if (!resolved) return false;
    *when = *resolved;
    *classic = true;
  } else if (ConsumeRfc3339Stamp(&rest, when)) {
    *when = std::min(*when, now);
    *classic = false;
  } else {
    return false;
  }
  *s = rest;
  return true;
}

bool ConsumeSyslogHostAndProgram(absl::string_view* s,
                                 absl::string_view* program,
                                 absl::string_view* pid) {
  absl::string_view rest = *s;
  size_t space = rest.find(' ');
  // A host name never ends with ':'; what does is a daemon's own-log
  // process name ("imap-login:"), which must not pass for a host.
  if (space == 0 || space == absl::string_view::npos ||
      rest[space - 1] == ':') {
    return false;
  }
  rest.remove_prefix(space + 1);
  size_t n = 0;
  while (n < rest.size() && n <= 64 && IsProgramChar(rest[n])) ++n;
  if (n == 0 || n > 64) return false;
  absl::string_view name = rest.substr(0, n);
  rest.remove_prefix(n);
  absl::string_view pid_digits;
  if (absl::ConsumePrefix(&rest, "[")) {
    size_t digits = 0;
    while (digits < rest.size() && digits <= 10 &&
           absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
      ++digits;
    }
    if (digits == 0 || digits > 10) return false;
    pid_digits = rest.substr(0, digits);
    rest.remove_prefix(digits);
    if (!absl::ConsumePrefix(&rest, "]")) return false;
  }
  if (!absl::ConsumePrefix(&rest, ": ")) return false;
  *program = name;
  if (pid != nullptr) *pid = pid_digits;
  *s = rest;
  return true;
}

}  // namespace relaysync
