// relayers.db values: ASCII decimal seconds since the Unix epoch ("ticks"),
// and the ctime-style UTC rendering used in list/dump comments.
#ifndef RELAYSYNC_COMMON_TICKS_H_
#define RELAYSYNC_COMMON_TICKS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace relaysync {

// Parses a non-negative decimal count of seconds. A single trailing NUL is
// tolerated (some writers store C strings). Anything else is an error that
// names `what` (e.g. "ticks", "value of key 10.1.2.3").
absl::StatusOr<int64_t> ParseTicks(absl::string_view text,
                                   absl::string_view what);

// "Thu Nov 26 14:16:14 2026": ctime(3) layout, always UTC.
std::string FormatCtimeUtc(int64_t ticks);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_TICKS_H_
