#include "testing/cluster.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "backends/map/relayers_db.h"
#include "testing/files.h"
#include "testing/wait.h"

namespace relaysync::testing {

Cluster::Cluster(int agents, std::vector<std::string> coordinator_flags,
                 int coordinators)
    : coordinator_flags_(std::move(coordinator_flags)),
      ports_(coordinators, 0),
      placements_(coordinators) {
  for (int k = 0; k < coordinators; ++k) {
    coordinators_.push_back(std::make_unique<Process>());
  }
  std::string command =
      absl::StrCat(RELAYSYNC_MAKE_CERTS,
                   " --coordinator=localhost,127.0.0.1 --admin=test "
                   "--reader=monitor");
  for (int i = 0; i < agents; ++i) {
    agents_.push_back(std::make_unique<Process>());
    absl::StrAppend(&command, " --agent=agent", i);
  }
  RunShell(absl::StrCat(command, " '", dir_.File("tls"), "' >/dev/null"));
}

std::vector<std::string> Cluster::ClientTlsFlags(
    const std::string& name) const {
  if (insecure_) return {"--insecure"};
  return {"--tls-ca=" + Tls("ca.pem"), "--tls-cert=" + Tls(name + ".pem"),
          "--tls-key=" + Tls(name + ".key")};
}

Cluster::~Cluster() {
  for (auto& a : agents_) a->Stop(SIGTERM);
  for (auto& c : coordinators_) c->Stop(SIGTERM);
}

void Cluster::PlaceCoordinator(int k, std::vector<std::string> prefix,
                               std::string listen_host,
                               std::string target_host) {
  placements_[k] = Placement{std::move(prefix), std::move(listen_host),
                             std::move(target_host)};
}

std::string Cluster::target(int k) const {
  return absl::StrCat(placements_[k].target_host, ":", ports_[k]);
}
std::string Cluster::Db(int i) const {
  return dir_.File(absl::StrCat("relayers-", i, ".db"));
}
std::string Cluster::Socket(int i) const {
  return dir_.File(absl::StrCat("notify-", i, ".sock"));
}

bool Cluster::StartCoordinator(int k) {
  const std::string port_file =
      dir_.File(absl::StrCat("coordinator-", k, ".port"));
  unlink(port_file.c_str());
  std::vector<std::string> argv = placements_[k].prefix;
  for (std::string arg :
       {std::string(RELAYSYNC_COORDINATOR_BIN),
        absl::StrCat("--listen=", placements_[k].listen_host, ":", ports_[k]),
        "--data-dir=" + dir_.File(absl::StrCat("coordinator-data-", k)),
        "--port-file=" + port_file,
        // Tests log every login in as user "u": the per-user address limit
        // has tests of its own (limits_test.cc).
        std::string("--user-max-addresses=0")}) {
    argv.push_back(std::move(arg));
  }
  if (insecure_) {
    argv.push_back("--insecure");
  } else {
    argv.push_back("--tls-cert=" + Tls("coordinator.pem"));
    argv.push_back("--tls-key=" + Tls("coordinator.key"));
    argv.push_back("--tls-client-ca=" + Tls("ca.pem"));
  }
  argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
  Process& p = *coordinators_[k];
  const std::string log = dir_.File(absl::StrCat("coordinator-", k, ".log"));
  if (!p.Start(argv, log).ok()) return false;
  absl::StatusOr<int> port =
      WaitForPortFile(&p, port_file, log, absl::Seconds(20));
  if (!port.ok()) return false;
  ports_[k] = *port;
  return true;
}

void Cluster::StopCoordinator(int sig, int k) { coordinators_[k]->Stop(sig); }

void Cluster::WipeCoordinatorData(int k) {
  RemoveTree(dir_.File(absl::StrCat("coordinator-data-", k)));
}

bool Cluster::StartAgent(int i) {
  std::string targets;
  const int n = static_cast<int>(coordinators_.size());
  for (int j = 0; j < n; ++j) {
    absl::StrAppend(&targets, j == 0 ? "" : ",", target((i + j) % n));
  }
  std::vector<std::string> argv;
  if (auto p = agent_prefix_.find(i); p != agent_prefix_.end()) {
    argv = p->second;
  }
  for (std::string arg :
       {std::string(RELAYSYNC_AGENT_BIN), "--coordinator=" + targets,
        absl::StrCat("--host-id=agent", i), "--db=" + Db(i),
        "--spool-dir=" + dir_.File(absl::StrCat("spool-", i)),
        "--notify-socket=" + Socket(i)}) {
    argv.push_back(std::move(arg));
  }
  for (const std::string& f : ClientTlsFlags(absl::StrCat("agent-agent", i))) {
    argv.push_back(f);
  }
  if (auto extra = agent_flags_.find(i); extra != agent_flags_.end()) {
    argv.insert(argv.end(), extra->second.begin(), extra->second.end());
  }
  if (!agents_[i]
           ->Start(argv, dir_.File(absl::StrCat("agent-", i, ".log")))
           .ok()) {
    return false;
  }
  // Ready when its notify socket exists.
  return WaitForCondition([&] { return access(Socket(i).c_str(), F_OK) == 0; },
                          absl::Seconds(20));
}

void Cluster::StopAgent(int i, int sig) {
  agents_[i]->Stop(sig);
  if (sig == SIGKILL) unlink(Socket(i).c_str());
}

bool Cluster::StartAll() {
  for (size_t k = 0; k < coordinators_.size(); ++k) {
    if (!StartCoordinator(static_cast<int>(k))) return false;
  }
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (!StartAgent(static_cast<int>(i))) return false;
  }
  return true;
}

std::optional<std::string> Cluster::Lookup(int i,
                                           const std::string& key) const {
  auto db = RelayersDb::Open(Db(i), RelayersDb::Mode::kReadOnly);
  if (!db.ok()) return std::nullopt;
  absl::StatusOr<std::string> v = (*db)->Get(key);
  if (!v.ok()) return std::nullopt;
  return *v;
}

bool Cluster::AllHave(const std::string& key, bool present) const {
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (Lookup(static_cast<int>(i), key).has_value() != present) return false;
  }
  return true;
}

int Cluster::Notify(int i, const std::string& ip, const std::string& user) {
  // From the agent's namespace: the agent answers on an abstract socket.
  std::vector<std::string> argv;
  if (auto p = agent_prefix_.find(i); p != agent_prefix_.end()) {
    argv = p->second;
  }
  for (std::string arg :
       {std::string(RELAYSYNC_AGENT_BIN), std::string("notify"),
        "--socket=" + Socket(i), std::string("--protocol=imap"), ip}) {
    argv.push_back(std::move(arg));
  }
  if (!user.empty()) argv.push_back(user);
  return RunCommand(argv, nullptr);
}

int Cluster::Vsmtprelay(const std::vector<std::string>& args,
                        std::string* output, int k) {
  std::vector<std::string> argv = {VSMTPRELAY_BIN,
                                   "--coordinator=" + target(k)};
  for (const std::string& f : ClientTlsFlags("admin-test")) argv.push_back(f);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, output);
}

std::string Cluster::Logs() const {
  std::string out;
  for (size_t k = 0; k < coordinators_.size(); ++k) {
    const std::string name = absl::StrCat("coordinator-", k, ".log");
    absl::StrAppend(&out, "--- ", name, "\n", ReadFile(dir_.File(name)));
  }
  for (size_t i = 0; i < agents_.size(); ++i) {
    absl::StrAppend(&out, "--- agent-", i, ".log\n",
                    ReadFile(dir_.File(absl::StrCat("agent-", i, ".log"))));
  }
  return out;
}

}  // namespace relaysync::testing
