// vsmtprelay: command-line compatible with vsmtprelay 1.1.0 (add, delete,
// expire, list, dump), on a local relayers.db. RunVsmtprelay is the whole
// program minus process set-up, so tests drive it with a fake clock.
#ifndef RELAYSYNC_CLI_VSMTPRELAY_H_
#define RELAYSYNC_CLI_VSMTPRELAY_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/clock.h"

namespace relaysync {

// Exit statuses (documented in docs/vsmtprelay.1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // db error, address not present
inline constexpr int kExitUsage = 2;    // bad command, address, n or ticks
// `status` with --coordinator answered, and an agent is behind (--max-lag)
// or gone (--max-silence): distinct from 1 (no answer) for monitoring.
inline constexpr int kExitAgentsBehind = 3;

// The usage text of vsmtprelay 1.1.0, word for word.
extern const char kVsmtprelayUsage[];

struct CliContext {
  const Clock* clock = SystemClock::Get();
  // Environment lookup (VSMTPRELAY_DB, HOME); getenv(3) in production.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

// Runs one invocation; `args` excludes argv[0]. Returns the exit status.
int RunVsmtprelay(const std::vector<std::string>& args, const CliContext& ctx,
                  std::ostream& out, std::ostream& err);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_VSMTPRELAY_H_
