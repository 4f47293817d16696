// A relaysync cluster of real processes on loopback for integration tests:
// one coordinator (embedded store) and N agents, each with its own
// relayers.db, spool and notify socket in a scratch directory.
#ifndef RELAYSYNC_TESTS_INTEGRATION_CLUSTER_H_
#define RELAYSYNC_TESTS_INTEGRATION_CLUSTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/process.h"
#include "tests/test_util.h"

namespace relaysync::testing {

class Cluster {
 public:
  explicit Cluster(int agents, std::vector<std::string> coordinator_flags = {});
  ~Cluster();

  // The first start picks a free port; restarts reuse it and the data dir.
  bool StartCoordinator();
  void StopCoordinator(int sig);
  // Deletes the stopped coordinator's store: the next start is empty.
  void WipeCoordinatorData();
  bool StartAgent(int i);
  void StopAgent(int i, int sig);
  bool StartAll();

  std::string target() const;
  std::string Db(int i) const;
  std::string Socket(int i) const;
  std::string dir() const { return dir_.path(); }

  // The value agent i's relayers.db holds for `key`, if any.
  std::optional<std::string> Lookup(int i, const std::string& key) const;
  // True when every agent's map has `key` (present = true) or none has it.
  bool AllHave(const std::string& key, bool present = true) const;
  // `relaysync-agent notify` against agent i; returns its exit code.
  int Notify(int i, const std::string& ip, const std::string& user = "u");
  // `vsmtprelay --coordinator=... ARGS`; returns its exit code.
  int Vsmtprelay(const std::vector<std::string>& args,
                 std::string* output = nullptr);
  // The agents' and coordinator's logs, for failure messages.
  std::string Logs() const;

 private:
  ScratchDir dir_;
  std::vector<std::string> coordinator_flags_;
  int port_ = 0;
  Process coordinator_;
  std::vector<std::unique_ptr<Process>> agents_;
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_INTEGRATION_CLUSTER_H_
