// The flags are defined in agent/main.cc; this file is linked into the
// relaysync-agent program only.
#include "agent/check_config_main.h"

#include <grpc/support/log.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "agent/check_config.h"
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
ABSL_DECLARE_FLAG(std::string, output);
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
  CheckConfigOptions o;
  // As the agent reads them (agent/main.cc, RunAgent).
  std::vector<std::string> outputs = RepeatedFlagValues(argc, argv, "output");
  if (outputs.empty() && !absl::GetFlag(FLAGS_output).empty()) {
    outputs.push_back(absl::GetFlag(FLAGS_output));  // from a --flagfile
  }
  for (const std::string& spec : outputs) {
    absl::StatusOr<MapOutput> output = ParseMapOutput(spec);
    if (!output.ok()) return Usage("--output: " + output.status().ToString());
    o.maps.push_back(*output);
  }
  if (o.maps.empty() || !RepeatedFlagValues(argc, argv, "db").empty()) {
    o.maps.insert(o.maps.begin(),
                  MapOutput{MapKind::kSendmail, absl::GetFlag(FLAGS_db)});
  }
  o.mta_user = absl::GetFlag(FLAGS_mta_user);
  auto targets = ParseEndpoints(absl::GetFlag(FLAGS_coordinator));
  if (!absl::GetFlag(FLAGS_coordinator).empty()) {
    if (!targets.ok()) return Usage(std::string(targets.status().message()));
    o.coordinators = *targets;
  }
  o.tls.ca = absl::GetFlag(FLAGS_tls_ca);
  o.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key = absl::GetFlag(FLAGS_tls_key);
  o.tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.tls.insecure = absl::GetFlag(FLAGS_insecure);
  if (absl::Status s =
          ValidateTlsFiles(o.tls, {"--tls-ca", "--tls-cert", "--tls-key"});
      !s.ok()) {
    std::cout << "FAIL: " << s.message() << "\n";
    return 1;
  }
  o.host_id = absl::GetFlag(FLAGS_host_id);
  if (o.host_id.empty()) {
    char name[256] = {0};
    if (gethostname(name, sizeof(name) - 1) == 0) o.host_id = name;
  }
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
