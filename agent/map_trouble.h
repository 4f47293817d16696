// What an operator must do about a relay map the agent cannot write: turns
// the map writer's error into one log line that names the file, the cause,
// the fix, and what the agent does meanwhile.
#ifndef RELAYSYNC_AGENT_MAP_TROUBLE_H_
#define RELAYSYNC_AGENT_MAP_TROUBLE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace relaysync {

// The fix for `failure` (from RelayersDb), e.g. "move it away (the agent
// then rebuilds it from the cluster state) or put the right file back".
std::string MapFix(const absl::Status& failure);

// "relay map (<doing>): <failure>: <fix>; <meanwhile>, retrying every <..>
// at most". `doing` says which step failed ("applying changes").
std::string MapTroubleMessage(absl::string_view doing,
                              const absl::Status& failure,
                              absl::Duration retry_max);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_MAP_TROUBLE_H_
