// MeteredStore: a Store that forwards every call to another and counts its
// errors for Prometheus (relaysync_coordinator_store_errors_total, by
// kind: the status code) and whether the last call reached the store
// (relaysync_coordinator_store_up). Wraps the store only when metrics are
// on; adds one virtual call per store call.
#ifndef RELAYSYNC_COORDINATOR_METERED_STORE_H_
#define RELAYSYNC_COORDINATOR_METERED_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backends/store/store.h"
#include "metrics/metrics.h"

namespace relaysync {

class MeteredStore final : public Store {
 public:
  // `registry` is not owned and must outlive this.
  MeteredStore(std::unique_ptr<Store> store, metrics::Registry* registry);

  std::string Name() const override { return store_->Name(); }
  std::string Epoch() const override { return store_->Epoch(); }
  absl::StatusOr<MutationResult> MergeLogins(const std::vector<Login>& logins,
                                             int64_t not_after) override;
  absl::StatusOr<MutationResult> Put(const std::string& address, int64_t ticks,
                                     const Attribution& who) override;
  absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses, int64_t now) override;
  absl::StatusOr<MutationResult> Expire(int64_t cutoff,
                                        int64_t forget_before) override;
  absl::StatusOr<Snapshot> ReadSnapshot() override;
  absl::StatusOr<std::vector<AttributedEntry>> ReadAttributed() override;
  absl::StatusOr<std::vector<StateChange>> ChangesSince(uint64_t since,
                                                        size_t limit) override;
  absl::StatusOr<uint64_t> Version() override;
  absl::StatusOr<int64_t> EntryCount() override;
  absl::StatusOr<int64_t> CountLaterThan(int64_t ticks) override;
  int concurrent_merges() const override { return store_->concurrent_merges(); }
  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override;

 private:
  // Counts `s` when it is an error. OutOfRange is no error: it tells the
  // caller to read a snapshot.
  void Count(const absl::Status& s);

  const std::unique_ptr<Store> store_;
  const metrics::Gauge up_;
  // Fixed after construction: read without a lock.
  std::map<absl::StatusCode, metrics::Counter> errors_;
  metrics::Counter other_errors_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_METERED_STORE_H_
