// Helpers for the log-format parser tests: one line through ClassifyLogLine
// with one named format (or several), at a fixed "now" after every sample.
#ifndef RELAYSYNC_TESTS_AGENT_LOG_FORMAT_TEST_UTIL_H_
#define RELAYSYNC_TESTS_AGENT_LOG_FORMAT_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "agent/log_format.h"

namespace relaysync::testing {

inline absl::Time UtcTime(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

// After every sample line of the tests.
inline const absl::Time kLogNow = UtcTime(2026, 11, 25, 12, 0, 0);

// `line` classified with the formats named in `names` (comma-separated, or
// "auto").
inline LogLineVerdict ClassifyAs(absl::string_view names,
                                 absl::string_view line) {
  std::vector<const LogFormat*> formats;
  if (names == "auto") {
    formats = *LogFormatsFromFlag("auto");
  } else {
    formats.push_back(FindLogFormat(names));
  }
  return ClassifyLogLine(line, formats, kLogNow, absl::UTCTimeZone());
}

inline bool IsLogin(const LogLineVerdict& v) {
  return v.verdict.kind == LoginVerdict::Kind::kLogin;
}
inline bool IsRefused(const LogLineVerdict& v) {
  return v.verdict.kind == LoginVerdict::Kind::kRefused;
}
inline bool IsNotALogin(const LogLineVerdict& v) {
  return v.verdict.kind == LoginVerdict::Kind::kNotALogin;
}
inline bool IsSessionEnd(const LogLineVerdict& v) {
  return v.verdict.kind == LoginVerdict::Kind::kSessionEnd;
}

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_AGENT_LOG_FORMAT_TEST_UTIL_H_
