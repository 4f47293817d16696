#include "agent/dovecot_log_parser.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/address.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

// Dovecot caps the logged user at 80 bytes (str_sanitize), so a real login
// line is a few hundred bytes. A longer one may have been cut by syslog, and
// a cut could remove the real rip= and leave a fake one from the user name
// as the last: such lines are not trusted.
constexpr size_t kMaxLoginLineBytes = 800;

// Dovecot writes control characters in logged values as '?' (str_sanitize)
// and rsyslog escapes them ("#011"), so a line holding one (a NUL, a raw
// newline inside a field, an escape sequence) was not written by either:
// it is refused rather than trusted with a user name nobody could log in as.
bool HasControlChars(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

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

// "HOST dovecot: " or "HOST dovecot[123]: ".
bool ConsumeSyslogHostAndProgram(absl::string_view* s) {
  size_t space = s->find(' ');
  if (space == 0 || space == absl::string_view::npos) return false;
  s->remove_prefix(space + 1);
  if (!absl::ConsumePrefix(s, "dovecot")) return false;
  if (absl::ConsumePrefix(s, "[")) {
    size_t n = 0;
    while (n < s->size() && n < 10 &&
           absl::ascii_isdigit(static_cast<unsigned char>((*s)[n]))) {
      ++n;
    }
    if (n == 0) return false;
    s->remove_prefix(n);
    if (!absl::ConsumePrefix(s, "]")) return false;
  }
  return absl::ConsumePrefix(s, ": ");
}

// Up to the next ',' or the end of the line, through Address::Parse.
std::optional<Address> ConsumeAddress(absl::string_view* s) {
  size_t end = std::min(s->find(','), s->size());
  absl::StatusOr<Address> address = Address::Parse(s->substr(0, end));
  if (!address.ok()) return std::nullopt;
  s->remove_prefix(end);
  return *address;
}

// `s` starts right after "user=<". Fills user and address.
bool ParseLoginFields(absl::string_view s, LocalLogin* login) {
  static constexpr absl::string_view kUserEnd = ">, method=";
  size_t end = s.rfind(kUserEnd);
  if (end == absl::string_view::npos || end == 0 || end > kMaxTextField) {
    return false;
  }
  login->user = std::string(s.substr(0, end));
  s.remove_prefix(end + kUserEnd.size());
  size_t method_len = 0;
  while (method_len < s.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(s[method_len])) ||
          s[method_len] == '-')) {
    ++method_len;
  }
  if (method_len == 0) return false;
  s.remove_prefix(method_len);
  if (!absl::ConsumePrefix(&s, ", rip=")) return false;
  std::optional<Address> rip = ConsumeAddress(&s);
  if (!rip || !absl::ConsumePrefix(&s, ", lip=") || !ConsumeAddress(&s)) {
    return false;
  }
  if (!s.empty() && s[0] != ',') return false;
  login->address = rip->ToString();
  return true;
}

}  // namespace

std::optional<LocalLogin> ParseDovecotLoginLine(absl::string_view line,
                                                absl::Time now,
                                                absl::TimeZone tz,
                                                DovecotLineForm* form) {
  absl::ConsumeSuffix(&line, "\r");
  if (line.size() > kMaxLoginLineBytes || HasControlChars(line)) {
    return std::nullopt;
  }
  LocalLogin login;
  absl::string_view s = line;
  absl::Time when;
  DovecotLineForm line_form = DovecotLineForm::kSyslog;
  ClassicStamp stamp;
  if (ConsumeClassicStamp(&s, &stamp)) {
    std::optional<absl::Time> resolved = ResolveClassicStamp(stamp, now, tz);
    if (!resolved) return std::nullopt;
    when = *resolved;
    // Dovecot's own log file has no host or program name.
    if (ConsumeLoginProcess(&s, &login.protocol)) {
      if (!absl::ConsumePrefix(&s, "Info: ")) return std::nullopt;
      line_form = DovecotLineForm::kOwnLog;
    } else if (!ConsumeSyslogHostAndProgram(&s) ||
               !ConsumeLoginProcess(&s, &login.protocol)) {
      return std::nullopt;
    } else {
      absl::ConsumePrefix(&s, "Info: ");
    }
  } else if (ConsumeRfc3339Stamp(&s, &when)) {
    when = std::min(when, now);
    if (!ConsumeSyslogHostAndProgram(&s) ||
        !ConsumeLoginProcess(&s, &login.protocol)) {
      return std::nullopt;
    }
    absl::ConsumePrefix(&s, "Info: ");
  } else {
    return std::nullopt;
  }
  if (!absl::ConsumePrefix(&s, "Login: user=<")) return std::nullopt;
  if (!ParseLoginFields(s, &login)) return std::nullopt;
  login.login_time = absl::ToUnixSeconds(when);
  login.source = "log";
  if (form != nullptr) *form = line_form;
  return login;
}

}  // namespace relaysync
