#include "coordinator/agent_registry.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <set>
#include <utility>

namespace relaysync {

AgentRegistry::AgentRegistry(const Clock* clock, GoneAgentLimits limits)
    : clock_(clock), limits_(limits) {}

int AgentRegistry::Add(AgentInfo info) {
  info.connected = true;
  info.last_seen = clock_->NowSeconds();
  absl::MutexLock l(&mu_);
  gone_.erase(info.host_id);
  int handle = next_++;
  agents_[handle] = std::move(info);
  return handle;
}

void AgentRegistry::Seen(int handle) {
  const int64_t now = clock_->NowSeconds();
  absl::MutexLock l(&mu_);
  auto it = agents_.find(handle);
  if (it != agents_.end()) it->second.last_seen = now;
}

void AgentRegistry::SetApplied(int handle, uint64_t version) {
  const int64_t now = clock_->NowSeconds();
  absl::MutexLock l(&mu_);
  auto it = agents_.find(handle);
  if (it == agents_.end()) return;
  it->second.applied_version = version;
  it->second.last_seen = now;
}

void AgentRegistry::Remove(int handle) {
  const int64_t now = clock_->NowSeconds();
  absl::MutexLock l(&mu_);
  auto it = agents_.find(handle);
  if (it == agents_.end()) return;
  AgentInfo info = std::move(it->second);
  agents_.erase(it);
  info.connected = false;
  info.last_seen = now;
  if (limits_.max_agents == 0) return;
  std::string host = info.host_id;
  gone_[host] = std::move(info);
  ForgetOldLocked(now);
  // One scan per disconnect over at most max_agents + 1 records.
  while (gone_.size() > limits_.max_agents) {
    auto oldest = std::min_element(
        gone_.begin(), gone_.end(), [](const auto& a, const auto& b) {
          return a.second.last_seen < b.second.last_seen;
        });
    gone_.erase(oldest);
  }
}

void AgentRegistry::ForgetOldLocked(int64_t now) {
  const int64_t cutoff = now - absl::ToInt64Seconds(limits_.keep_for);
  for (auto it = gone_.begin(); it != gone_.end();) {
    it = it->second.last_seen < cutoff ? gone_.erase(it) : std::next(it);
  }
}

std::vector<AgentInfo> AgentRegistry::List() const {
  absl::MutexLock l(&mu_);
  std::vector<AgentInfo> out;
  for (const auto& [handle, info] : agents_) out.push_back(info);
  return out;
}

std::vector<AgentInfo> AgentRegistry::ListWithGone() const {
  const int64_t cutoff =
      clock_->NowSeconds() - absl::ToInt64Seconds(limits_.keep_for);
  absl::MutexLock l(&mu_);
  std::vector<AgentInfo> out;
  std::set<std::string> open;
  for (const auto& [handle, info] : agents_) {
    out.push_back(info);
    open.insert(info.host_id);
  }
  const size_t first_gone = out.size();
  for (const auto& [host, info] : gone_) {
    // A record left by a stream that ended while its host reconnected.
    if (open.count(host) == 0 && info.last_seen >= cutoff) out.push_back(info);
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first_gone), out.end(),
            [](const AgentInfo& a, const AgentInfo& b) {
              return a.last_seen > b.last_seen;
            });
  return out;
}

}  // namespace relaysync
