#include "tests/coordinator/fake_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace relaysync::testing {

void FakeStore::NewEpoch(const std::string& epoch) {
  absl::MutexLock l(&mu_);
  epoch_ = epoch;
  entries_.clear();
  log_.clear();
}

void FakeStore::TrimLogThrough(uint64_t version) {
  absl::MutexLock l(&mu_);
  log_.erase(std::remove_if(log_.begin(), log_.end(),
                            [version](const StateChange& c) {
                              return c.version <= version;
                            }),
             log_.end());
}

void FakeStore::RollBackTo(uint64_t version) {
  absl::MutexLock l(&mu_);
  version_ = version;
  log_.erase(std::remove_if(log_.begin(), log_.end(),
                            [version](const StateChange& c) {
                              return c.version > version;
                            }),
             log_.end());
}

void FakeStore::FailReads(absl::Status status) {
  absl::MutexLock l(&mu_);
  read_failure_ = std::move(status);
}

void FakeStore::HoldMerges() {
  absl::MutexLock l(&mu_);
  hold_merges_ = true;
}

void FakeStore::ReleaseMerges() {
  absl::MutexLock l(&mu_);
  hold_merges_ = false;
}

std::vector<size_t> FakeStore::merge_sizes() const {
  absl::MutexLock l(&mu_);
  return merge_sizes_;
}

std::string FakeStore::Epoch() const {
  absl::MutexLock l(&mu_);
  return epoch_;
}

void FakeStore::ChangeLocked(const std::string& address, int64_t ticks,
                             bool removed, MutationResult* result) {
  StateChange c{++version_, address, ticks, removed};
  log_.push_back(c);
  result->changes.push_back(std::move(c));
}

absl::StatusOr<MutationResult> FakeStore::MergeLogins(
    const std::vector<Login>& logins, int64_t not_after) {
  absl::MutexLock l(&mu_);
  merge_sizes_.push_back(logins.size());
  auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !hold_merges_;
  };
  mu_.Await(absl::Condition(&released));
  MutationResult result;
  for (const Login& login : logins) {
    if (login.login_time <= not_after) continue;
    auto it = entries_.find(login.address);
    if (it != entries_.end() && it->second >= login.login_time) continue;
    entries_[login.address] = login.login_time;
    ChangeLocked(login.address, login.login_time, false, &result);
  }
  return result;
}

absl::StatusOr<MutationResult> FakeStore::Put(const std::string& address,
                                              int64_t ticks,
                                              const Attribution&) {
  absl::MutexLock l(&mu_);
  MutationResult result;
  entries_[address] = ticks;
  ChangeLocked(address, ticks, false, &result);
  return result;
}

absl::StatusOr<MutationResult> FakeStore::Delete(
    const std::vector<std::string>& addresses, int64_t) {
  absl::MutexLock l(&mu_);
  MutationResult result;
  for (const std::string& address : addresses) {
    if (entries_.erase(address) == 0) {
      result.missing.push_back(address);
    } else {
      ChangeLocked(address, 0, true, &result);
    }
  }
  return result;
}

absl::StatusOr<MutationResult> FakeStore::Expire(int64_t cutoff, int64_t) {
  absl::MutexLock l(&mu_);
  MutationResult result;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second > cutoff) {
      ++it;
      continue;
    }
    ChangeLocked(it->first, 0, true, &result);
    it = entries_.erase(it);
  }
  return result;
}

absl::StatusOr<Snapshot> FakeStore::ReadSnapshot() {
  absl::MutexLock l(&mu_);
  if (!read_failure_.ok()) return read_failure_;
  Snapshot snap;
  snap.version = version_;
  snap.epoch = epoch_;
  for (const auto& [address, ticks] : entries_) {
    snap.entries.push_back(StateEntry{address, ticks});
  }
  return snap;
}

absl::StatusOr<std::vector<AttributedEntry>> FakeStore::ReadAttributed() {
  absl::MutexLock l(&mu_);
  std::vector<AttributedEntry> out;
  for (const auto& [address, ticks] : entries_) {
    out.push_back(AttributedEntry{address, ticks, {}});
  }
  return out;
}

absl::StatusOr<std::vector<StateChange>> FakeStore::ChangesSince(uint64_t since,
                                                                 size_t limit) {
  absl::MutexLock l(&mu_);
  if (!read_failure_.ok()) return read_failure_;
  const uint64_t oldest = log_.empty() ? version_ + 1 : log_.front().version;
  if (since + 1 < oldest || since > version_) {
    return absl::OutOfRangeError(
        absl::StrCat("fake store: changes since ", since, " are gone"));
  }
  std::vector<StateChange> out;
  for (const StateChange& c : log_) {
    if (c.version > since && out.size() < limit) out.push_back(c);
  }
  return out;
}

absl::StatusOr<uint64_t> FakeStore::Version() {
  absl::MutexLock l(&mu_);
  if (!read_failure_.ok()) return read_failure_;
  return version_;
}

absl::StatusOr<int64_t> FakeStore::EntryCount() {
  absl::MutexLock l(&mu_);
  return static_cast<int64_t>(entries_.size());
}

absl::StatusOr<int64_t> FakeStore::CountLaterThan(int64_t ticks) {
  absl::MutexLock l(&mu_);
  return static_cast<int64_t>(
      std::count_if(entries_.begin(), entries_.end(),
                    [ticks](const auto& e) { return e.second > ticks; }));
}

absl::StatusOr<uint64_t> FakeStore::WaitForChange(uint64_t since,
                                                  absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  const std::string epoch = epoch_;
  auto moved = [this, since, &epoch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return version_ > since || epoch_ != epoch;
  };
  mu_.AwaitWithTimeout(absl::Condition(&moved), timeout);
  return version_;
}

}  // namespace relaysync::testing
