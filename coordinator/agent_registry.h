// AgentRegistry: which agents are connected right now, how far each has
// applied the state, and how many of their logins were refused for good,
// for the Status RPC and for logs.
#ifndef RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_
#define RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace relaysync {

struct AgentInfo {
  std::string host_id;
  std::string peer;
  uint64_t applied_version = 0;
  int64_t connected_since = 0;
};

class AgentRegistry {
 public:
  // Returns a handle for the other calls. Thread-safe.
  int Add(AgentInfo info);
  void SetApplied(int handle, uint64_t version);
  void Remove(int handle);
  std::vector<AgentInfo> List() const;

  // Logins acknowledged without being merged (invalid, never relayed, over
  // their user's limit), since the start.
  void CountRejected(int64_t n) {
    rejected_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> rejected_{0};
  mutable absl::Mutex mu_;
  std::map<int, AgentInfo> agents_ ABSL_GUARDED_BY(mu_);
  int next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_
