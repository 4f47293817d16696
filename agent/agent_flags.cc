#include "agent/agent_flags.h"

#include <unistd.h>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/flag_names.h"
#include "rpc/endpoints.h"

ABSL_DECLARE_FLAG(std::string, coordinator);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(bool, insecure);
ABSL_DECLARE_FLAG(std::string, host_id);
ABSL_DECLARE_FLAG(std::string, db);

namespace relaysync {

absl::StatusOr<AgentFlags> ReadAgentFlags(int argc, char** argv) {
  AgentFlags f;
  const std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  if (!coordinator.empty()) {
    absl::StatusOr<std::vector<std::string>> targets =
        ParseEndpoints(coordinator);
    if (!targets.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--coordinator: ", targets.status().message()));
    }
    f.coordinators = *targets;
  }
  f.tls.ca = absl::GetFlag(FLAGS_tls_ca);
  f.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  f.tls.key = absl::GetFlag(FLAGS_tls_key);
  f.tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  f.tls.insecure = absl::GetFlag(FLAGS_insecure);
  f.host_id = absl::GetFlag(FLAGS_host_id);
  if (f.host_id.empty()) {
    char name[256] = {0};
    if (gethostname(name, sizeof(name) - 1) == 0) f.host_id = name;
  }
  // Repeatable, on the command line and in flagfiles; Abseil keeps only
  // the last.
  for (const std::string& spec : RepeatedFlagValues(argc, argv, "output")) {
    absl::StatusOr<MapOutput> output = ParseMapOutput(spec);
    if (!output.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--output: ", output.status().message()));
    }
    f.outputs.push_back(*output);
  }
  if (f.outputs.empty() || !RepeatedFlagValues(argc, argv, "db").empty()) {
    f.db_path = absl::GetFlag(FLAGS_db);
  }
  return f;
}

}  // namespace relaysync
