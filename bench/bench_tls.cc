#include "bench/bench_tls.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace relaysync::bench {

absl::StatusOr<BenchTls> BenchTls::Make(
    bool enabled, const std::string& dir,
    const std::vector<std::string>& agents) {
  BenchTls tls;
  tls.enabled_ = enabled;
  tls.dir_ = dir;
  if (!enabled) return tls;
  std::string command =
      absl::StrCat(RELAYSYNC_MAKE_CERTS, " --coordinator=localhost,127.0.0.1");
  for (const std::string& a : agents) absl::StrAppend(&command, " --agent=", a);
  absl::StrAppend(&command, " '", dir, "' >/dev/null");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", command));
  }
  return tls;
}

std::vector<std::string> BenchTls::CoordinatorFlags() const {
  if (!enabled_) return {"--insecure"};
  return {"--tls-cert=" + dir_ + "/coordinator.pem",
          "--tls-key=" + dir_ + "/coordinator.key",
          "--tls-client-ca=" + dir_ + "/ca.pem"};
}

std::vector<std::string> BenchTls::AgentFlags(const std::string& host) const {
  if (!enabled_) return {"--insecure"};
  const TlsFiles files = Agent(host);
  return {"--tls-ca=" + files.ca, "--tls-cert=" + files.cert,
          "--tls-key=" + files.key};
}

TlsFiles BenchTls::Agent(const std::string& host) const {
  TlsFiles files;
  files.insecure = !enabled_;
  if (enabled_) {
    files.ca = dir_ + "/ca.pem";
    files.cert = absl::StrCat(dir_, "/agent-", host, ".pem");
    files.key = absl::StrCat(dir_, "/agent-", host, ".key");
  }
  return files;
}

}  // namespace relaysync::bench
