#include "agent/materializer.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/ticks.h"

namespace relaysync {

Materializer::Materializer(MapWriter* map, KeyStyle key_style)
    : map_(map), key_style_(key_style) {}

std::string Materializer::Key(const std::string& address) const {
  absl::StatusOr<Address> a = Address::Parse(address);
  return a.ok() ? a->ToKey(key_style_) : address;
}

int64_t Materializer::Desired(const std::string& address) const {
  int64_t ticks = 0;
  if (auto it = cluster_.find(address); it != cluster_.end()) {
    ticks = it->second;
  }
  if (auto it = local_.find(address); it != local_.end()) {
    ticks = std::max(ticks, it->second.ticks);
  }
  return ticks;
}

absl::Status Materializer::Write(const std::vector<std::string>& touched) {
  MapBatch batch;
  std::vector<std::pair<std::string, int64_t>> updates;
  std::unordered_set<std::string> seen;
  for (const std::string& address : touched) {
    if (!seen.insert(address).second) continue;
    const int64_t want = Desired(address);
    auto it = written_.find(address);
    const int64_t have = it == written_.end() ? 0 : it->second;
    if (want == have) continue;
    if (want == 0) {
      batch.Delete(Key(address));
    } else {
      batch.Put(Key(address), want);
    }
    updates.emplace_back(address, want);
  }
  if (batch.empty()) return absl::OkStatus();
  absl::StatusOr<ApplyResult> r = map_->Apply(batch);
  if (!r.ok()) {
    // What the map holds is now uncertain; the next snapshot reconciles.
    written_.clear();
    return r.status();
  }
  ++stats_.batches;
  for (const auto& [address, ticks] : updates) {
    if (ticks == 0) {
      written_.erase(address);
      ++stats_.deletes;
    } else {
      written_[address] = ticks;
      ++stats_.puts;
    }
  }
  return absl::OkStatus();
}

absl::Status Materializer::Load() {
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::Parse(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok()) continue;  // the first snapshot removes it
    written_[a->ToString()] = *t;
    cluster_[a->ToString()] = *t;
  }
  return absl::OkStatus();
}

absl::Status Materializer::AddLocal(const std::vector<StateEntry>& logins) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> touched;
  for (const StateEntry& login : logins) {
    touched.push_back(login.address);
    // The client sends from the spool while this is being written, so the
    // coordinator may already have answered: then the cluster state alone
    // decides (a login it refused must not stay pending here for good).
    if (auto early = early_acks_.find(login.address);
        early != early_acks_.end()) {
      if (--early->second <= 0) early_acks_.erase(early);
      continue;
    }
    Pending& p = local_[login.address];
    p.ticks = std::max(p.ticks, login.ticks);
    ++p.count;
  }
  return Write(touched);
}

std::vector<StateEntry> Materializer::Held() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<StateEntry> out;
  out.reserve(written_.size());
  for (const auto& [address, ticks] : written_) {
    out.push_back(StateEntry{address, ticks});
  }
  return out;
}

absl::Status Materializer::Acknowledged(
    const std::vector<std::pair<std::string, int64_t>>& logins) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> touched;
  for (const auto& [address, ticks] : logins) {
    auto it = local_.find(address);
    if (it == local_.end()) {
      // Acknowledged before AddLocal() ran (see there). Bounded: a stray
      // ack (none is expected) must not grow this without end.
      if (early_acks_.size() >= kMaxEarlyAcks) early_acks_.clear();
      ++early_acks_[address];
      continue;
    }
    if (--it->second.count <= 0) {
      local_.erase(it);
      touched.push_back(address);
    }
  }
  return Write(touched);
}

absl::Status Materializer::ApplySnapshot(
    const std::vector<StateEntry>& entries) {
  std::lock_guard<std::mutex> l(mu_);
  cluster_.clear();
  for (const StateEntry& e : entries) cluster_[e.address] = e.ticks;
  // Re-read the map: another writer (vsmtprelay, a restore) may have
  // changed it, and this process may have just started.
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  written_.clear();
  MapBatch batch;
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::Parse(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok() || a->ToKey(key_style_) != e.key) {
      // Not something this agent would write: the cluster decides.
      batch.Delete(e.key);
      continue;
    }
    written_[a->ToString()] = *t;
  }
  if (!batch.empty()) {
    absl::StatusOr<ApplyResult> r = map_->Apply(batch);
    if (!r.ok()) return r.status();
    ++stats_.batches;
  }
  std::vector<std::string> touched;
  for (const auto& [address, ticks] : written_) touched.push_back(address);
  for (const auto& [address, ticks] : cluster_) touched.push_back(address);
  for (const auto& [address, p] : local_) touched.push_back(address);
  return Write(touched);
}

absl::Status Materializer::ApplyDeltas(const std::vector<StateChange>& deltas) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> touched;
  for (const StateChange& c : deltas) {
    if (c.removed) {
      cluster_.erase(c.address);
    } else {
      cluster_[c.address] = c.ticks;
    }
    touched.push_back(c.address);
  }
  return Write(touched);
}

MaterializerStats Materializer::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace relaysync
