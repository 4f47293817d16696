// relaysync-agent check-config, the coordinator part: this agent's
// certificate (expiry, identity) and a real call to every --coordinator
// with it (grpc.health.v1 on the Sync port, which needs the same mutual
// TLS as Sync), with the cause of a failure named (rpc/tls_probe.h).
#ifndef RELAYSYNC_AGENT_CHECK_COORDINATOR_H_
#define RELAYSYNC_AGENT_CHECK_COORDINATOR_H_

#include "agent/check_config.h"
#include "agent/check_report.h"

namespace relaysync {

// One line per coordinator: FAIL when none answers, a warning for each
// that does not while another does (the agent fails over).
void CheckCoordinators(const CheckConfigOptions& options, CheckReport* r);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CHECK_COORDINATOR_H_
