// The flags are defined in agent/main.cc; this file is linked into the
// relaysync-agent program only.
#include "agent/check_config_main.h"

#include <grpc/support/log.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "agent/agent_flags.h"
#include "agent/check_config.h"
#include "common/flag_names.h"
#include "rpc/endpoints.h"

ABSL_DECLARE_FLAG(std::string, notify_socket);
ABSL_DECLARE_FLAG(std::string, notify_socket_group);
ABSL_DECLARE_FLAG(std::vector<std::string>, notify_allow_uid);
ABSL_DECLARE_FLAG(std::vector<std::string>, notify_allow_gid);
ABSL_DECLARE_FLAG(std::vector<std::string>, watch_log);
ABSL_DECLARE_FLAG(std::string, mta_user);
ABSL_DECLARE_FLAG(std::string, notify_user);
ABSL_DECLARE_FLAG(absl::Duration, check_timeout);

namespace relaysync {
namespace {

int Usage(const std::string& why) {
  std::cerr << "relaysync-agent check-config: " << why << "\n";
  return 2;
}

}  // namespace

int CheckConfigMain(int argc, char** argv) {
  std::vector<std::string> args = ParseFlags(argc, argv);
  if (args.size() > 1) return Usage("unexpected argument \"" + args[1] + "\"");
  // Every failure is in the report, with its cause; gRPC's own lines
  // about it would only repeat it on stderr.
  gpr_set_log_function([](gpr_log_func_args*) {});
  absl::StatusOr<AgentFlags> flags = ReadAgentFlags(argc, argv);
  if (!flags.ok()) return Usage(std::string(flags.status().message()));
  CheckConfigOptions o;
  if (!flags->db_path.empty()) {
    o.maps.push_back(MapOutput{MapKind::kSendmail, flags->db_path});
  }
  o.maps.insert(o.maps.end(), flags->outputs.begin(), flags->outputs.end());
  o.mta_user = absl::GetFlag(FLAGS_mta_user);
  o.coordinators = flags->coordinators;
  o.tls = flags->tls;
  if (absl::Status s = ValidateTlsFiles(o.tls, kAgentTlsFlags); !s.ok()) {
    std::cout << "FAIL: " << s.message() << "\n";
    return 1;
  }
  o.host_id = flags->host_id;
  o.timeout = absl::GetFlag(FLAGS_check_timeout);
  o.notify_socket = absl::GetFlag(FLAGS_notify_socket);
  o.notify_user = absl::GetFlag(FLAGS_notify_user);
  o.notify_allow_users = absl::GetFlag(FLAGS_notify_allow_uid);
  o.notify_allow_groups = absl::GetFlag(FLAGS_notify_allow_gid);
  o.notify_socket_group = absl::GetFlag(FLAGS_notify_socket_group);
  o.watch_logs = absl::GetFlag(FLAGS_watch_log);
  const int status = CheckConfig(o, std::cout);
  std::cout.flush();
  return status;
}

}  // namespace relaysync
