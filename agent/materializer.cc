#include "agent/materializer.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

// Ticks are never negative (ParseTicks and Admin.Add refuse them), so 0 is
// an entry stamped at the epoch (vsmtprelay add ip 0) and this is none.
constexpr int64_t kNoEntry = -1;

}  // namespace

Materializer::Materializer(MapWriter* map, KeyStyle key_style,
                           const Clock* clock)
    : map_(map), key_style_(key_style), clock_(clock) {}

std::string Materializer::Key(const std::string& address) const {
  absl::StatusOr<Address> a = Address::Parse(address);
  return a.ok() ? a->ToKey(key_style_) : address;
}

int64_t Materializer::CutoffLocked() const {
  if (expire_after_seconds_ <= 0) return std::numeric_limits<int64_t>::min();
  return clock_->NowSeconds() - expire_after_seconds_;
}

int64_t Materializer::Desired(const std::string& address,
                              int64_t cutoff) const {
  int64_t ticks = kNoEntry;
  if (auto it = cluster_.find(address); it != cluster_.end()) {
    ticks = it->second;
  }
  if (auto it = local_.find(address); it != local_.end()) {
    ticks = std::max(ticks, it->second.ticks);
  }
  return ticks > cutoff ? ticks : kNoEntry;
}

void Materializer::SetWritten(const std::string& address, int64_t ticks) {
  auto it = written_.find(address);
  if (it != written_.end()) {
    by_ticks_.erase({it->second, address});
    if (ticks == kNoEntry) {
      written_.erase(it);
    } else {
      it->second = ticks;
    }
  } else if (ticks != kNoEntry) {
    written_.emplace(address, ticks);
  }
  if (ticks != kNoEntry) by_ticks_.emplace(ticks, address);
}

void Materializer::ClearWritten() {
  written_.clear();
  by_ticks_.clear();
}

absl::Status Materializer::Write(const std::vector<std::string>& touched) {
  // After a failed write only a whole rewrite makes the map right again: a
  // map that was replaced or recreated meanwhile lacks what `touched` does
  // not name.
  if (!written_known_) return RebuildLocked();
  MapBatch batch;
  std::vector<std::pair<std::string, int64_t>> updates;
  std::unordered_set<std::string> seen;
  const int64_t cutoff = CutoffLocked();
  for (const std::string& address : touched) {
    if (!seen.insert(address).second) continue;
    const int64_t want = Desired(address, cutoff);
    auto it = written_.find(address);
    const int64_t have = it == written_.end() ? kNoEntry : it->second;
    if (want == have) continue;
    if (want == kNoEntry) {
      batch.Delete(Key(address));
    } else {
      batch.Put(Key(address), want);
    }
    updates.emplace_back(address, want);
  }
  if (batch.empty()) return absl::OkStatus();
  absl::StatusOr<ApplyResult> r = map_->Apply(batch);
  if (!r.ok()) {
    // What the map holds is now uncertain: the next write of any kind
    // (a change, an expiry pass, Repair()) rebuilds it.
    ClearWritten();
    written_known_ = false;
    return r.status();
  }
  ++stats_.batches;
  for (const auto& [address, ticks] : updates) {
    SetWritten(address, ticks);
    ++(ticks == kNoEntry ? stats_.deletes : stats_.puts);
  }
  return absl::OkStatus();
}

absl::Status Materializer::Load() {
  absl::MutexLock l(&mu_);
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::ParseKey(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok()) continue;  // the first snapshot removes it
    SetWritten(a->ToString(), *t);
    cluster_[a->ToString()] = *t;
  }
  return absl::OkStatus();
}

absl::Status Materializer::AddLocal(const std::vector<StateEntry>& logins) {
  absl::MutexLock l(&mu_);
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
  absl::MutexLock l(&mu_);
  std::vector<StateEntry> out;
  out.reserve(written_.size());
  for (const auto& [address, ticks] : written_) {
    out.push_back(StateEntry{address, ticks});
  }
  return out;
}

absl::Status Materializer::Acknowledged(
    const std::vector<std::pair<std::string, int64_t>>& logins) {
  absl::MutexLock l(&mu_);
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
  absl::MutexLock l(&mu_);
  cluster_.clear();
  for (const StateEntry& e : entries) cluster_[e.address] = e.ticks;
  // Re-read the map: another writer (vsmtprelay, a restore) may have
  // changed it, and this process may have just started.
  return RebuildLocked();
}

absl::Status Materializer::Repair() {
  absl::MutexLock l(&mu_);
  if (written_known_) return absl::OkStatus();
  return RebuildLocked();
}

absl::Status Materializer::RebuildLocked() {
  written_known_ = false;
  absl::StatusOr<MapBatch> foreign = RereadLocked();
  if (!foreign.ok()) return foreign.status();
  // Not something this agent would write: the cluster decides.
  const MapBatch& batch = *foreign;
  if (!batch.empty()) {
    absl::StatusOr<ApplyResult> r = map_->Apply(batch);
    if (!r.ok()) {
      ClearWritten();
      written_known_ = false;
      return r.status();
    }
    ++stats_.batches;
  }
  std::vector<std::string> touched;
  for (const auto& [address, ticks] : written_) touched.push_back(address);
  for (const auto& [address, ticks] : cluster_) touched.push_back(address);
  for (const auto& [address, p] : local_) touched.push_back(address);
  return Write(touched);
}

absl::StatusOr<MapBatch> Materializer::RereadLocked() {
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  ClearWritten();
  written_known_ = true;
  MapBatch foreign;
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::ParseKey(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok() || a->ToKey(key_style_) != e.key) {
      foreign.Delete(e.key);
      continue;
    }
    SetWritten(a->ToString(), *t);
  }
  return foreign;
}

absl::Status Materializer::ApplyDeltas(const std::vector<StateChange>& deltas) {
  absl::MutexLock l(&mu_);
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

absl::Duration Materializer::ExpireAfter() const {
  absl::MutexLock l(&mu_);
  return absl::Seconds(expire_after_seconds_);
}

absl::Status Materializer::SetExpireAfter(absl::Duration expire_after) {
  absl::MutexLock l(&mu_);
  const int64_t seconds =
      std::max<int64_t>(0, absl::ToInt64Seconds(expire_after));
  if (seconds == expire_after_seconds_) return absl::OkStatus();
  expire_after_seconds_ = seconds;
  std::vector<std::string> touched;
  for (const auto& [address, ticks] : written_) touched.push_back(address);
  for (const auto& [address, ticks] : cluster_) touched.push_back(address);
  for (const auto& [address, p] : local_) touched.push_back(address);
  return Write(touched);
}

absl::StatusOr<size_t> Materializer::Expire() {
  absl::MutexLock l(&mu_);
  if (!written_known_) {
    // Without this, what a failed write left in the map would not expire
    // (nor what it missed come back) before the next snapshot, which no
    // outage brings. The rebuild leaves out what is due.
    const uint64_t deletes = stats_.deletes;
    absl::Status s = RebuildLocked();
    if (!s.ok()) return s;
    const size_t removed = stats_.deletes - deletes;
    stats_.expired += removed;
    return removed;
  }
  const int64_t cutoff = CutoffLocked();
  std::vector<std::string> due;
  for (auto it = by_ticks_.begin();
       it != by_ticks_.end() && it->first <= cutoff; ++it) {
    due.push_back(it->second);
  }
  if (due.empty()) return 0;
  const uint64_t deletes = stats_.deletes;
  absl::Status s = Write(due);
  if (!s.ok()) return s;
  const size_t removed = stats_.deletes - deletes;
  stats_.expired += removed;
  return removed;
}

absl::Status Materializer::SignalWrites() {
  absl::MutexLock l(&mu_);
  return map_->SignalWrites();
}

absl::Time Materializer::NextExpiry() const {
  absl::MutexLock l(&mu_);
  if (expire_after_seconds_ <= 0 || by_ticks_.empty()) {
    return absl::InfiniteFuture();
  }
  const int64_t first = by_ticks_.begin()->first;
  if (first > std::numeric_limits<int64_t>::max() - expire_after_seconds_) {
    return absl::InfiniteFuture();  // stamped at the end of time
  }
  return absl::FromUnixSeconds(first + expire_after_seconds_);
}

MaterializerStats Materializer::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

}  // namespace relaysync
