#include "coordinator/agent_registry.h"

#include <utility>

namespace relaysync {

int AgentRegistry::Add(AgentInfo info) {
  absl::MutexLock l(&mu_);
  int handle = next_++;
  agents_[handle] = std::move(info);
  return handle;
}

void AgentRegistry::SetApplied(int handle, uint64_t version) {
  absl::MutexLock l(&mu_);
  auto it = agents_.find(handle);
  if (it != agents_.end()) it->second.applied_version = version;
}

void AgentRegistry::Remove(int handle) {
  absl::MutexLock l(&mu_);
  agents_.erase(handle);
}

std::vector<AgentInfo> AgentRegistry::List() const {
  absl::MutexLock l(&mu_);
  std::vector<AgentInfo> out;
  for (const auto& [handle, info] : agents_) out.push_back(info);
  return out;
}

}  // namespace relaysync
