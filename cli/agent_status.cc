#include "cli/agent_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/ticks.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {
namespace {

std::string Ago(int64_t seconds) {
  return absl::StrCat(absl::FormatDuration(absl::Seconds(seconds)), " ago");
}

}  // namespace

int DescribeAgents(const v1::StatusResponse& status, int64_t now,
                   const AgentLimits& limits, std::string* out) {
  if (status.now() != 0) now = status.now();
  int connected = 0;
  for (const v1::AgentStatus& a : status.agents()) {
    if (!a.disconnected()) ++connected;
  }
  std::string rows;
  int behind = 0;
  for (const v1::AgentStatus& a : status.agents()) {
    const uint64_t lag = a.applied_version() >= status.version()
                             ? 0
                             : status.version() - a.applied_version();
    const int64_t silence = std::max<int64_t>(0, now - a.last_seen());
    const bool gone_too_long =
        a.disconnected() && absl::Seconds(silence) > limits.max_silence;
    const bool lagging = lag > limits.max_lag;
    const char* state = gone_too_long      ? "DISCONNECTED"
                        : lagging          ? "BEHIND"
                        : a.disconnected() ? "disconnected"
                                           : "connected";
    if (gone_too_long || lagging) ++behind;
    absl::StrAppend(&rows, gone_too_long || lagging ? "* " : "  ", a.host_id(),
                    "\t", state, "\tlag ", lag, "\tapplied version ",
                    a.applied_version(), "\tlast seen ",
                    a.last_seen() == 0 ? std::string("unknown") : Ago(silence),
                    "\t", a.peer(), "\tconnected since ",
                    FormatCtimeUtc(a.connected_since()), " UTC\n");
  }
  absl::StrAppend(
      out, "agents connected: ", connected,
      " (to this coordinator: each one lists only its own agents)\n",
      "agents disconnected (last 24 h): ", status.agents_size() - connected,
      "\nagents behind (lag over ", limits.max_lag,
      " versions, or disconnected over ",
      absl::FormatDuration(limits.max_silence), "): ", behind, "\n", rows);
  return behind;
}

}  // namespace relaysync
