// `vsmtprelay --coordinator=... status`: the table of agents, each with its
// lag (the store's version minus the version it applied), when the
// coordinator last heard from it, and a mark on those that fall behind.
#ifndef RELAYSYNC_CLI_AGENT_STATUS_H_
#define RELAYSYNC_CLI_AGENT_STATUS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace relaysync {

namespace v1 {
class StatusResponse;
}

// When an agent counts as behind (--max-lag, --max-silence).
struct AgentLimits {
  uint64_t max_lag = 1000;  // versions
  // How long an agent may stay disconnected. A connected agent is never
  // marked for silence: an idle one sends nothing, and its stream's
  // keepalive ends it within ~20 s of the agent going dead; a connected
  // agent that stopped applying shows as lag.
  absl::Duration max_silence = absl::Seconds(60);
};

// Appends one line per agent in `status` to `out`, marked with "*" and
// BEHIND (lag over max_lag) or DISCONNECTED (gone for longer than
// max_silence); `now` is the coordinator's clock when the answer carries
// it. Returns how many agents are marked.
int DescribeAgents(const v1::StatusResponse& status, int64_t now,
                   const AgentLimits& limits, std::string* out);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_AGENT_STATUS_H_
