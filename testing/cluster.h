// A relaysync cluster of real processes on loopback for integration tests:
// one or more coordinators and N agents, each agent with its own
// relayers.db, spool and notify socket in a scratch directory. Agent i is
// homed on coordinator i % coordinators and lists the others after it for
// failover. Every connection is mutual TLS, with certificates made by
// scripts/make-certs.sh in <dir>/tls: the coordinator's (localhost and
// 127.0.0.1), agent<i> for each agent, admin "test" and reader "monitor".
#ifndef RELAYSYNC_TESTING_CLUSTER_H_
#define RELAYSYNC_TESTING_CLUSTER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync::testing {

class Cluster {
 public:
  // `coordinator_flags` are added to every coordinator's command line (e.g.
  // --store=redis --redis=...); without them each uses its own embedded
  // store.
  explicit Cluster(int agents, std::vector<std::string> coordinator_flags = {},
                   int coordinators = 1);
  ~Cluster();

  // Flags added to every coordinator's command line from the next start on.
  void AddCoordinatorFlags(const std::vector<std::string>& flags) {
    coordinator_flags_.insert(coordinator_flags_.end(), flags.begin(),
                              flags.end());
  }
  // Every process talks plaintext (--insecure) from the next start on.
  void UseInsecure() { insecure_ = true; }
  // Flags added after agent i's own on its next start (later ones win).
  void AddAgentFlags(int i, std::vector<std::string> flags) {
    agent_flags_[i] = std::move(flags);
  }

  // Coordinator k runs under `prefix` (e.g. NetNamespace::Wrap({}): inside
  // a network namespace), listens on `listen_host` and is reached at
  // `target_host` (by the other agents, vsmtprelay and target(k)).
  void PlaceCoordinator(int k, std::vector<std::string> prefix,
                        std::string listen_host, std::string target_host);
  // Agent i runs under `prefix` from its next start on.
  void PlaceAgent(int i, std::vector<std::string> prefix) {
    agent_prefix_[i] = std::move(prefix);
  }

  // The first start picks a free port; restarts reuse it and the data dir.
  bool StartCoordinator(int k = 0);
  void StopCoordinator(int sig, int k = 0);
  // Deletes the stopped coordinator's embedded store: the next start is
  // empty.
  void WipeCoordinatorData(int k = 0);
  bool StartAgent(int i);
  void StopAgent(int i, int sig);
  bool StartAll();

  std::string target(int k = 0) const;
  // The running coordinator's process id (for /proc), or -1.
  pid_t CoordinatorPid(int k = 0) const { return coordinators_[k]->pid(); }
  int port(int k = 0) const { return ports_[k]; }
  // Agent i's pid (-1 when not running), e.g. for its RSS.
  int agent_pid(int i) const { return agents_[i]->pid(); }
  int coordinator_pid(int k = 0) const { return coordinators_[k]->pid(); }
  std::string Db(int i) const;
  std::string Socket(int i) const;
  std::string dir() const { return dir_.path(); }
  // A file in the certificate directory, e.g. Tls("ca.pem").
  std::string Tls(const std::string& name) const {
    return dir_.File("tls/" + name);
  }
  // --tls-* flags for a client with certificate `<name>.pem`, e.g.
  // "admin-test" or "reader-monitor".
  std::vector<std::string> ClientTlsFlags(const std::string& name) const;

  // The value agent i's relayers.db holds for `key`, if any.
  std::optional<std::string> Lookup(int i, const std::string& key) const;
  // True when every agent's map has `key` (present = true) or none has it.
  bool AllHave(const std::string& key, bool present = true) const;
  // `relaysync-agent notify` against agent i; returns its exit code. An
  // empty `user` is left off the command line.
  int Notify(int i, const std::string& ip, const std::string& user = "u");
  // `vsmtprelay --coordinator=<coordinator k> ARGS` as admin "test"
  // (ARGS may hold other --tls-* flags, which come later and win); returns
  // its exit code.
  int Vsmtprelay(const std::vector<std::string>& args,
                 std::string* output = nullptr, int k = 0);
  // The agents' and coordinators' logs, for failure messages.
  std::string Logs() const;

 private:
  ScratchDir dir_;
  std::vector<std::string> coordinator_flags_;
  bool insecure_ = false;
  std::map<int, std::vector<std::string>> agent_flags_;
  std::map<int, std::vector<std::string>> agent_prefix_;
  std::vector<int> ports_;
  struct Placement {
    std::vector<std::string> prefix;
    std::string listen_host = "127.0.0.1";
    std::string target_host = "127.0.0.1";
  };
  std::vector<Placement> placements_;
  std::vector<std::unique_ptr<Process>> coordinators_;
  std::vector<std::unique_ptr<Process>> agents_;
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_CLUSTER_H_
