// AgentRegistry: which agents are connected right now, how far each has
// applied the state and when it was last heard from, the agents that went
// away recently (for `vsmtprelay status`: "disconnected, last seen 5 min
// ago"), and how many of their logins were refused for good. Feeds the
// Status RPC, the metrics and logs.
#ifndef RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_
#define RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace relaysync {

struct AgentInfo {
  std::string host_id;
  std::string peer;
  uint64_t applied_version = 0;
  int64_t connected_since = 0;
  // Seconds since the epoch when the coordinator last heard from the agent:
  // its last message while connected, the end of its stream once gone.
  int64_t last_seen = 0;
  bool connected = true;
};

// What is kept of agents whose stream ended. Host ids come from verified
// certificates (Authorizer::CheckHostId), but with --insecure any caller
// picks its own: both bounds hold whatever the callers send.
struct GoneAgentLimits {
  size_t max_agents = 1024;  // beyond, the longest gone is forgotten
  absl::Duration keep_for = absl::Hours(24);
};

class AgentRegistry {
 public:
  // `clock` is not owned and must outlive this.
  explicit AgentRegistry(const Clock* clock, GoneAgentLimits limits = {});

  // Returns a handle for the other calls. Thread-safe. Forgets a gone
  // record of the same host id.
  int Add(AgentInfo info);
  // The agent sent a message (Applied also moves its version).
  void Seen(int handle);
  void SetApplied(int handle, uint64_t version);
  // The stream ended: kept as a gone agent (connected = false) until it
  // reconnects, is older than keep_for, or is pushed out by max_agents.
  void Remove(int handle);
  // The connected streams (a host reconnecting may have two).
  std::vector<AgentInfo> List() const;
  // List() and then the gone agents that have no stream open, longest gone
  // last.
  std::vector<AgentInfo> ListWithGone() const;

  // Logins acknowledged without being merged (invalid, never relayed, over
  // their user's limit), since the start.
  void CountRejected(int64_t n) {
    rejected_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  void ForgetOldLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const GoneAgentLimits limits_;
  std::atomic<int64_t> rejected_{0};
  mutable absl::Mutex mu_;
  std::map<int, AgentInfo> agents_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AgentInfo> gone_ ABSL_GUARDED_BY(mu_);  // by host id
  int next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_AGENT_REGISTRY_H_
