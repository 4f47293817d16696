// StateWriter: the only path by which the coordinator changes the store.
// It applies the clock rules (skew clamp, expiry cut-off) and writes; the
// changes reach the agents through the ChangeFeed, which follows the store.
// Grouping login batches into one transaction is the caller's
// (GroupCommit).
#ifndef RELAYSYNC_COORDINATOR_STATE_WRITER_H_
#define RELAYSYNC_COORDINATOR_STATE_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/store/store.h"
#include "common/clock.h"

namespace relaysync {

struct StateWriterOptions {
  // Entries older than this are removed; zero = never (vsmtprelay's own
  // behaviour, left to cron + vsmtprelay expire).
  absl::Duration expire_after = absl::Minutes(30);
  // Agent login times further than this in the future are clamped to now.
  absl::Duration max_clock_skew = absl::Minutes(1);
  // With expire_after zero, deleted records are forgotten after this long.
  absl::Duration forget_deleted_after = absl::Hours(24 * 7);
};

class StateWriter {
 public:
  // None owned; all must outlive the writer. Thread-safe: mutations run
  // concurrently, as the store allows.
  StateWriter(Store* store, const Clock* clock,
              const StateWriterOptions& options);

  // Merges `logins` (addresses already canonical) in one store
  // transaction. Returns once they are durable in the store.
  // The result is a version that covers the logins (the highest the merge
  // produced, or the store's when it changed nothing): an agent must be
  // sent the state up to it before the acknowledgement, or it would drop
  // its local entry before the cluster's arrives.
  absl::StatusOr<uint64_t> MergeLogins(std::vector<Login> logins);

  // Admin operations. `who` is the adding admin (Store::Put).
  absl::StatusOr<MutationResult> Put(const std::string& address, int64_t ticks,
                                     const Attribution& who);
  absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses);
  absl::StatusOr<MutationResult> Expire(int64_t cutoff);

  // The automatic expiry pass (see StateWriterOptions).
  absl::Status ExpireNow();

  // Logins at or before this are dropped (INT64_MIN when never expiring).
  int64_t LoginCutoff() const;

  const StateWriterOptions& options() const { return options_; }

 private:
  // The version an acknowledgement of a merge's logins must wait for.
  uint64_t CoveringVersion(const MutationResult& result);

  Store* const store_;
  const Clock* const clock_;
  const StateWriterOptions options_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_STATE_WRITER_H_
