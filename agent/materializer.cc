#include "agent/materializer.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

// Ticks are never negative (ParseTicks and Admin.Add refuse them), so 0 is
// an entry stamped at the epoch (vsmtprelay add ip 0) and this is none.
constexpr int64_t kNoEntry = AddressTable::kNone;
constexpr int64_t kNothingWritten = std::numeric_limits<int64_t>::max();

}  // namespace

Materializer::Materializer(MapWriter* map, KeyStyle key_style,
                           const Clock* clock)
    : map_(map), key_style_(key_style), clock_(clock) {}

int64_t Materializer::CutoffLocked() const {
  if (expire_after_seconds_ <= 0) return std::numeric_limits<int64_t>::min();
  return clock_->NowSeconds() - expire_after_seconds_;
}

int64_t Materializer::Desired(const Address& address,
                              const AddressTable::Cell& cell,
                              int64_t cutoff) const {
  int64_t ticks = cell.cluster;
  if (!local_.empty()) {
    if (auto it = local_.find(address.ToString()); it != local_.end()) {
      ticks = std::max(ticks, it->second.ticks);
    }
  }
  return ticks > cutoff ? ticks : kNoEntry;
}

void Materializer::SetWritten(const Address& address, int64_t ticks) {
  table_.SetWritten(address, ticks);
  if (ticks != kNoEntry) earliest_written_ = std::min(earliest_written_, ticks);
}

bool Materializer::Plan(
    const Address& address, int64_t have, int64_t want, MapBatch* batch,
    std::vector<std::pair<Address, int64_t>>* updates) const {
  if (want == have) return false;
  if (want == kNoEntry) {
    batch->Delete(address.ToKey(key_style_));
  } else {
    batch->Put(address.ToKey(key_style_), want);
  }
  updates->emplace_back(address, want);
  return true;
}

void Materializer::ForgetWrittenLocked() {
  table_.ClearWritten();
  earliest_written_ = kNothingWritten;
}

absl::Status Materializer::Commit(
    const MapBatch& batch,
    const std::vector<std::pair<Address, int64_t>>& updates) {
  if (batch.empty()) return absl::OkStatus();
  // All puts into an empty map (a first start on a big cluster): the map
  // may have a quicker way (MapWriter::Fill).
  bool filled = false;
  if (updates.size() >= kFillAtLeast && earliest_written_ == kNothingWritten &&
      std::all_of(updates.begin(), updates.end(),
                  [](const auto& u) { return u.second != kNoEntry; })) {
    absl::StatusOr<bool> fill = map_->Fill(batch);
    if (!fill.ok()) LogWarning(fill.status().message(), "; writing in place");
    filled = fill.ok() && *fill;
  }
  if (!filled) {
    absl::StatusOr<ApplyResult> r = map_->Apply(batch);
    if (!r.ok()) {
      // What the map holds is now uncertain: the next write of any kind
      // (a change, an expiry pass, Repair()) rebuilds it.
      ForgetWrittenLocked();
      written_known_ = false;
      return r.status();
    }
  }
  ++stats_.batches;
  for (const auto& [address, ticks] : updates) {
    SetWritten(address, ticks);
    ++(ticks == kNoEntry ? stats_.deletes : stats_.puts);
  }
  return absl::OkStatus();
}

// One line per call, at most one a minute: a coordinator that keeps sending
// text that is not an address must not flood the log or hold the lock
// writing it.
void Materializer::LogRefused(int refused, const std::string& example) {
  if (refused == 0) return;
  bad_address_log_.Log(
      LogLevel::kWarning,
      absl::StrCat("materializer: ignored ", refused,
                   " changes that are not addresses, e.g. \"",
                   absl::CEscape(example.substr(0, 64)), "\""));
}

absl::Status Materializer::Write(const std::vector<std::string>& touched) {
  std::vector<Address> addresses;
  addresses.reserve(touched.size());
  int refused = 0;
  std::string example;
  for (const std::string& text : touched) {
    absl::StatusOr<Address> a = Address::Parse(text);
    if (a.ok()) {
      addresses.push_back(*a);
    } else if (refused++ == 0) {
      example = text;
    }
  }
  LogRefused(refused, example);
  return WriteAddresses(addresses);
}

absl::Status Materializer::WriteAddresses(const std::vector<Address>& touched) {
  // After a failed write only a whole rewrite makes the map right again: a
  // map that was replaced or recreated meanwhile lacks what `touched` does
  // not name.
  if (!written_known_) return RebuildLocked();
  MapBatch batch;
  std::vector<std::pair<Address, int64_t>> updates;
  absl::flat_hash_set<Address> seen;
  const int64_t cutoff = CutoffLocked();
  for (const Address& address : touched) {
    if (touched.size() > 1 && !seen.insert(address).second) continue;
    const AddressTable::Cell cell = table_.Get(address);
    Plan(address, cell.written, Desired(address, cell, cutoff), &batch,
         &updates);
  }
  return Commit(batch, updates);
}

absl::Status Materializer::WriteAll() {
  if (!written_known_) return RebuildLocked();
  const int64_t cutoff = CutoffLocked();
  // Sized first: a snapshot's batch can hold a million changes, and a
  // vector that doubles holds one and a half times that while it grows.
  size_t changes = local_.size();
  table_.ForEach([&](const Address& address, const AddressTable::Cell& cell) {
    mu_.AssertHeld();
    if (Desired(address, cell, cutoff) != cell.written) ++changes;
  });
  MapBatch batch;
  batch.Reserve(changes);
  std::vector<std::pair<Address, int64_t>> updates;
  updates.reserve(changes);
  table_.ForEach([&](const Address& address, const AddressTable::Cell& cell) {
    mu_.AssertHeld();
    Plan(address, cell.written, Desired(address, cell, cutoff), &batch,
         &updates);
  });
  // Pending logins of addresses the table does not hold yet.
  for (const auto& [text, pending] : local_) {
    absl::StatusOr<Address> a = Address::Parse(text);
    if (!a.ok() || !table_.Get(*a).empty()) continue;
    Plan(*a, kNoEntry, Desired(*a, AddressTable::Cell{}, cutoff), &batch,
         &updates);
  }
  return Commit(batch, updates);
}

absl::Status Materializer::Load() {
  absl::MutexLock l(&mu_);
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::ParseKey(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok()) continue;  // the first snapshot removes it
    table_.Set(*a, AddressTable::Cell{*t, *t});
    earliest_written_ = std::min(earliest_written_, *t);
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
  out.reserve(table_.size());
  table_.ForEach([&](const Address& address, const AddressTable::Cell& cell) {
    if (cell.written != kNoEntry) {
      out.push_back(StateEntry{address.ToString(), cell.written});
    }
  });
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

absl::Status Materializer::ApplySnapshot(std::vector<StateEntry> entries) {
  absl::MutexLock l(&mu_);
  table_.ClearCluster();
  size_t refused = 0;
  std::vector<std::pair<Address, int64_t>> cluster;
  cluster.reserve(entries.size());
  for (const StateEntry& e : entries) {
    absl::StatusOr<Address> a = Address::Parse(e.address);
    if (!a.ok()) {
      ++refused;
      continue;
    }
    cluster.emplace_back(*a, e.ticks);
  }
  entries = {};
  table_.AssignCluster(std::move(cluster));
  if (refused > 0) {
    LogWarning("materializer: ignored ", refused,
               " snapshot entries that are not addresses");
  }
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
  if (absl::Status s = Commit(*foreign, {}); !s.ok()) return s;
  return WriteAll();
}

absl::StatusOr<MapBatch> Materializer::RereadLocked() {
  absl::StatusOr<std::vector<MapEntry>> current = map_->ReadAll();
  if (!current.ok()) return current.status();
  ForgetWrittenLocked();
  written_known_ = true;
  MapBatch foreign;
  for (const MapEntry& e : *current) {
    absl::StatusOr<Address> a = Address::ParseKey(e.key);
    absl::StatusOr<int64_t> t = ParseTicks(e.value, "value");
    if (!a.ok() || !t.ok() || a->ToKey(key_style_) != e.key) {
      foreign.Delete(e.key);
      continue;
    }
    SetWritten(*a, *t);
  }
  return foreign;
}

absl::Status Materializer::ApplyDeltas(const std::vector<StateChange>& deltas) {
  absl::MutexLock l(&mu_);
  std::vector<Address> touched;
  touched.reserve(deltas.size());
  int refused = 0;
  std::string example;
  for (const StateChange& c : deltas) {
    absl::StatusOr<Address> a = Address::Parse(c.address);
    if (!a.ok()) {
      if (refused++ == 0) example = c.address;
      continue;
    }
    table_.SetCluster(*a, c.removed ? kNoEntry : c.ticks);
    touched.push_back(*a);
  }
  LogRefused(refused, example);
  return WriteAddresses(touched);
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
  return WriteAll();
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
  if (cutoff < earliest_written_) return 0;
  const absl::Time now = clock_->Now();
  if (now < last_scan_ + kScanInterval) return 0;
  last_scan_ = now;
  std::vector<Address> due;
  int64_t earliest = kNothingWritten;
  table_.ForEach([&](const Address& address, const AddressTable::Cell& cell) {
    if (cell.written == kNoEntry) return;
    if (cell.written <= cutoff) {
      due.push_back(address);
    } else {
      earliest = std::min(earliest, cell.written);
    }
  });
  earliest_written_ = earliest;
  if (due.empty()) return 0;
  const uint64_t deletes = stats_.deletes;
  absl::Status s = WriteAddresses(due);
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
  if (expire_after_seconds_ <= 0 || earliest_written_ == kNothingWritten) {
    return absl::InfiniteFuture();
  }
  if (earliest_written_ >
      std::numeric_limits<int64_t>::max() - expire_after_seconds_) {
    return absl::InfiniteFuture();  // stamped at the end of time
  }
  return std::max(
      absl::FromUnixSeconds(earliest_written_ + expire_after_seconds_),
      last_scan_ + kScanInterval);
}

size_t Materializer::entries() const {
  absl::MutexLock l(&mu_);
  size_t n = 0;
  table_.ForEach([&n](const Address&, const AddressTable::Cell& cell) {
    if (cell.written != AddressTable::kNone) ++n;
  });
  return n;
}

MaterializerStats Materializer::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

}  // namespace relaysync
