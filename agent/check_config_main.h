// `relaysync-agent check-config [flags]`: reads the agent's own flags (the
// same command line or --flagfile the agent runs with) into
// CheckConfigOptions and runs CheckConfig (agent/check_config.h).
#ifndef RELAYSYNC_AGENT_CHECK_CONFIG_MAIN_H_
#define RELAYSYNC_AGENT_CHECK_CONFIG_MAIN_H_

namespace relaysync {

// argv[0] is "check-config". Returns the exit status: 0 every check passed
// (warnings allowed), 1 a check failed, 2 a flag is invalid.
int CheckConfigMain(int argc, char** argv);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CHECK_CONFIG_MAIN_H_
