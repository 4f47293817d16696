#include "common/ticks.h"

#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace relaysync {

absl::StatusOr<int64_t> ParseTicks(absl::string_view text,
                                   absl::string_view what) {
  if (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  bool digits_only = !text.empty() && text.size() <= 18;
  for (char c : text) digits_only = digits_only && absl::ascii_isdigit(c);
  int64_t value = 0;
  if (!digits_only || !absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", absl::CHexEscape(text),
                     "\": expected decimal seconds since the epoch"));
  }
  return value;
}

std::string FormatCtimeUtc(int64_t ticks) {
  time_t t = static_cast<time_t>(ticks);
  struct tm tm;
  if (gmtime_r(&t, &tm) == nullptr) return "(out of range)";
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
  return std::string(buf, n);
}

}  // namespace relaysync
