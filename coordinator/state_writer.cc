#include "coordinator/state_writer.h"

#include <limits>
#include <utility>

namespace relaysync {

StateWriter::StateWriter(Store* store, const Clock* clock,
                         const StateWriterOptions& options)
    : store_(store), clock_(clock), options_(options) {}

int64_t StateWriter::LoginCutoff() const {
  if (options_.expire_after <= absl::ZeroDuration()) {
    return std::numeric_limits<int64_t>::min();
  }
  return clock_->NowSeconds() - absl::ToInt64Seconds(options_.expire_after);
}

absl::StatusOr<uint64_t> StateWriter::MergeLogins(std::vector<Login> logins) {
  const int64_t now = clock_->NowSeconds();
  const int64_t latest_allowed =
      now + absl::ToInt64Seconds(options_.max_clock_skew);
  for (Login& l : logins) {
    if (l.login_time > latest_allowed) l.login_time = now;
  }
  absl::StatusOr<MutationResult> result =
      store_->MergeLogins(logins, LoginCutoff());
  if (!result.ok()) return result.status();
  return CoveringVersion(*result);
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
                                                int64_t ticks,
                                                const Attribution& who) {
  return store_->Put(address, ticks, who);
}

absl::StatusOr<MutationResult> StateWriter::Delete(
    const std::vector<std::string>& addresses) {
  return store_->Delete(addresses, clock_->NowSeconds());
}

absl::StatusOr<MutationResult> StateWriter::Expire(int64_t cutoff) {
  return store_->Expire(cutoff, std::numeric_limits<int64_t>::min());
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
  return store_->Expire(cutoff, forget_before).status();
}

}  // namespace relaysync
