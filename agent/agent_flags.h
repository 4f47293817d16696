// The settings that relaysync-agent and `relaysync-agent check-config` both
// take from the command line (and its flagfiles): the coordinators, the TLS
// files, the host id and the maps. Read in one place, so that check-config
// checks exactly what the agent would run with. The flags themselves are
// defined in agent/main.cc; like check_config_main.cc this file is linked
// into the relaysync-agent program only.
#ifndef RELAYSYNC_AGENT_AGENT_FLAGS_H_
#define RELAYSYNC_AGENT_AGENT_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/map/map_kind.h"
#include "rpc/tls.h"

namespace relaysync {

struct AgentFlags {
  std::vector<std::string> coordinators;  // empty: --coordinator not given
  TlsFiles tls;                           // not yet validated
  std::string host_id;                    // --host-id, else this host's name
  std::vector<MapOutput> outputs;         // every --output, in order
  // --db: its default unless --output names the maps instead (then empty).
  std::string db_path;
};

// The flags' values after ParseFlags; InvalidArgument naming the flag for
// a --coordinator or --output that does not parse.
absl::StatusOr<AgentFlags> ReadAgentFlags(int argc, char** argv);

// The option names of TlsFiles, for ValidateTlsFiles' messages.
inline constexpr TlsFlagNames kAgentTlsFlags = {"--tls-ca", "--tls-cert",
                                                "--tls-key"};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_AGENT_FLAGS_H_
