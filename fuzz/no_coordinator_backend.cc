// Stands in for cli/coordinator_backend.cc in the vsmtprelay fuzz target:
// that target refuses every input naming a coordinator, so reaching the
// network is a bug of the harness, and it stops the run.
#include <cstdlib>

#include "cli/coordinator_backend.h"
#include "fuzz/fuzz_util.h"

namespace relaysync {

std::unique_ptr<RelayBackend> NewCoordinatorBackend(
    std::vector<std::string> targets, absl::Duration timeout,
    const Clock* clock, const TlsFiles& tls) {
  (void)targets;
  (void)timeout;
  (void)clock;
  (void)tls;
  fuzz::Fail(__FILE__, __LINE__, "false",
             "the vsmtprelay fuzz target reached the coordinator backend");
}

}  // namespace relaysync
