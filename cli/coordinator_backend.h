// RelayBackend through the coordinator's Admin service: vsmtprelay commands
// applied cluster-wide. Fails over between the given coordinators.
#ifndef RELAYSYNC_CLI_COORDINATOR_BACKEND_H_
#define RELAYSYNC_CLI_COORDINATOR_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/relay_backend.h"
#include "common/clock.h"
#include "rpc/tls.h"

namespace relaysync {

// `targets` as returned by ParseEndpoints, reached with `tls`. `clock`
// converts absolute cut-offs into ages for the coordinator.
std::unique_ptr<RelayBackend> NewCoordinatorBackend(
    std::vector<std::string> targets, absl::Duration timeout,
    const Clock* clock, const TlsFiles& tls);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_COORDINATOR_BACKEND_H_
