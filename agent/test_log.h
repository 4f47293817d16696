// `relaysync-agent test-log FILE`: a dry run of the log parsers over a file,
// so an administrator can see which lines would grant relaying, and why
// others that look like logins do not, before trusting a log to the agent.
#ifndef RELAYSYNC_AGENT_TEST_LOG_H_
#define RELAYSYNC_AGENT_TEST_LOG_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/log_format.h"
#include "common/never_relay.h"

namespace relaysync {

struct TestLogOptions {
  // Tried in order on each line, as the agent does (--log-format).
  std::vector<const LogFormat*> formats;
  // Year of classic timestamps and the clamp of future ones, as the agent.
  absl::Time now = absl::Now();
  absl::TimeZone time_zone = absl::LocalTimeZone();
  // Logins for these addresses are refused, as the agent refuses them.
  NeverRelay never_relay = NeverRelay::Defaults();
};

// Reads `path` ("-": standard input) and writes to `out`, for each line
// that would count as a login, its number, address, user, protocol, the
// format that matched and the form (own log, or syslog: counted only under
// --watch-syslog) and the session it opens, if the line names one; for each
// line that ends a session, its number, user and session; for each line
// that looks like a login but does not count, its number and why; then a
// summary. User names are written
// C-escaped, so a log cannot forge output lines or terminal escapes.
// Fails, naming the file, if it cannot be opened or read (what was read
// is still reported).
absl::Status TestLogFile(const std::string& path, const TestLogOptions& options,
                         std::ostream& out);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_TEST_LOG_H_
