#include "coordinator/state_writer.h"

#include <limits>
#include <utility>

namespace relaysync {
namespace {

// Upper bound on logins merged in one store transaction.
constexpr size_t kMaxGroupLogins = 20000;

}  // namespace

StateWriter::StateWriter(Store* store, ChangeHub* hub, const Clock* clock,
                         const StateWriterOptions& options)
    : store_(store), hub_(hub), clock_(clock), options_(options) {}

int64_t StateWriter::LoginCutoff() const {
  if (options_.expire_after <= absl::ZeroDuration()) {
    return std::numeric_limits<int64_t>::min();
  }
  return clock_->NowSeconds() - absl::ToInt64Seconds(options_.expire_after);
}

template <typename Fn>
absl::StatusOr<MutationResult> StateWriter::Commit(Fn fn) {
  std::lock_guard<std::mutex> l(commit_mu_);
  absl::StatusOr<MutationResult> result = fn();
  // A shared store's changes reach the hub through the coordinator's
  // follower, in the one order every coordinator sees.
  if (result.ok() && !store_->shared()) hub_->Publish(result->changes);
  return result;
}

absl::StatusOr<uint64_t> StateWriter::MergeLogins(std::vector<Login> logins) {
  const int64_t now = clock_->NowSeconds();
  const int64_t latest_allowed =
      now + absl::ToInt64Seconds(options_.max_clock_skew);
  for (Login& l : logins) {
    if (l.login_time > latest_allowed) l.login_time = now;
  }
  if (store_->shared()) {
    // Merging is order-independent and a shared store's changes reach the
    // hub through the follower: concurrent callers (the Sync service's
    // merge threads) each run their own script, overlapping.
    absl::StatusOr<MutationResult> result =
        store_->MergeLogins(logins, LoginCutoff());
    if (!result.ok()) return result.status();
    return CoveringVersion(*result);
  }
  // Group commit (as LevelDB's writer queue): the first waiter becomes the
  // leader and merges everything queued behind it in one transaction.
  Pending self;
  self.logins = &logins;
  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_.push_back(&self);
  queue_cv_.wait(lock, [&] { return self.done || queue_.front() == &self; });
  if (self.done) {
    if (!self.status.ok()) return self.status;
    return self.version;
  }

  std::vector<Login> group;
  std::vector<Pending*> members;
  for (Pending* p : queue_) {
    if (!members.empty() &&
        group.size() + p->logins->size() > kMaxGroupLogins) {
      break;
    }
    group.insert(group.end(), p->logins->begin(), p->logins->end());
    members.push_back(p);
  }
  lock.unlock();
  absl::StatusOr<MutationResult> result =
      Commit([&] { return store_->MergeLogins(group, LoginCutoff()); });
  const uint64_t version = result.ok() ? CoveringVersion(*result) : 0;
  lock.lock();
  for (Pending* p : members) {
    queue_.pop_front();
    p->status = result.status();
    p->version = version;
    p->done = true;
  }
  queue_cv_.notify_all();
  if (!self.status.ok()) return self.status;
  return self.version;
}

uint64_t StateWriter::CoveringVersion(const MutationResult& result) {
  if (!result.changes.empty()) return result.changes.back().version;
  // Nothing changed: the logins were already in, by an earlier commit
  // (another agent's re-send, a duplicate). That commit's delta must reach
  // the agent before the ack too, and the store's version covers it.
  // Unknown (store down): 0, and the ack goes at once.
  absl::StatusOr<uint64_t> current = store_->Version();
  return current.ok() ? *current : 0;
}

absl::StatusOr<MutationResult> StateWriter::Put(const std::string& address,
                                                int64_t ticks) {
  return Commit([&] { return store_->Put(address, ticks); });
}

absl::StatusOr<MutationResult> StateWriter::Delete(
    const std::vector<std::string>& addresses) {
  return Commit(
      [&] { return store_->Delete(addresses, clock_->NowSeconds()); });
}

absl::StatusOr<MutationResult> StateWriter::Expire(int64_t cutoff) {
  return Commit([&] {
    return store_->Expire(cutoff, std::numeric_limits<int64_t>::min());
  });
}

absl::Status StateWriter::ExpireNow() {
  const int64_t now = clock_->NowSeconds();
  int64_t cutoff = std::numeric_limits<int64_t>::min();
  int64_t forget_before =
      now - absl::ToInt64Seconds(options_.forget_deleted_after);
  if (options_.expire_after > absl::ZeroDuration()) {
    cutoff = LoginCutoff();
    // A forgotten record could only be revived by a login at or before its
    // delete time, and those are dropped by the cut-off anyway.
    forget_before = cutoff;
  }
  return Commit([&] { return store_->Expire(cutoff, forget_before); }).status();
}

}  // namespace relaysync
