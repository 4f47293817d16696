#include "coordinator/change_hub.h"

#include <algorithm>
#include <utility>

namespace relaysync {

ChangeHub::ChangeHub(size_t capacity, const std::string& epoch,
                     uint64_t base_version)
    : capacity_(std::max<size_t>(capacity, 1)),
      epoch_(epoch),
      latest_(base_version) {}

void ChangeHub::WakeAll() {
  absl::MutexLock l(&subscribers_mu_);
  for (auto& [id, wake] : subscribers_) wake();
}

void ChangeHub::Publish(const std::vector<StateChange>& changes) {
  if (changes.empty()) return;
  {
    absl::MutexLock l(&mu_);
    for (const StateChange& c : changes) {
      if (c.version <= latest_) continue;  // already seen (idempotent)
      ring_.push_back(c);
      latest_ = c.version;
    }
    while (ring_.size() > capacity_) ring_.pop_front();
  }
  WakeAll();
}

bool ChangeHub::Read(const std::string& epoch, uint64_t since, size_t max,
                     std::vector<StateChange>* out) const {
  absl::MutexLock l(&mu_);
  if (epoch != epoch_) return false;
  if (since >= latest_) return true;
  if (ring_.empty() || since + 1 < ring_.front().version) return false;
  size_t start = static_cast<size_t>(since + 1 - ring_.front().version);
  for (size_t i = start; i < ring_.size() && out->size() < max; ++i) {
    out->push_back(ring_[i]);
  }
  return true;
}

uint64_t ChangeHub::latest() const {
  absl::MutexLock l(&mu_);
  return latest_;
}

std::string ChangeHub::epoch() const {
  absl::MutexLock l(&mu_);
  return epoch_;
}

void ChangeHub::Reset(const std::string& epoch, uint64_t base_version) {
  {
    absl::MutexLock l(&mu_);
    ring_.clear();
    epoch_ = epoch;
    latest_ = base_version;
  }
  WakeAll();
}

int ChangeHub::Subscribe(std::function<void()> wake) {
  absl::MutexLock l(&subscribers_mu_);
  int id = next_id_++;
  subscribers_[id] = std::move(wake);
  return id;
}

void ChangeHub::Unsubscribe(int id) {
  absl::MutexLock l(&subscribers_mu_);
  subscribers_.erase(id);
}

}  // namespace relaysync
