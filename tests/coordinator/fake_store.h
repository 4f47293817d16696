// FakeStore: an in-memory Store for the coordinator's unit tests, with
// knobs the real stores cannot offer: a new epoch on demand, a change log
// trimmed at will, failing reads, and a merge that waits until released.
// Records follow only the simplest rules (a later login wins; no
// tombstones): the stores' own rules are the conformance suite's business.
#ifndef RELAYSYNC_TESTS_COORDINATOR_FAKE_STORE_H_
#define RELAYSYNC_TESTS_COORDINATOR_FAKE_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/store/store.h"

namespace relaysync::testing {

class FakeStore : public Store {
 public:
  explicit FakeStore(std::string epoch = "epoch-1")
      : epoch_(std::move(epoch)) {}

  // Knobs. Thread-safe, like every call.
  // The store restarts empty under `epoch` (versions go on counting).
  void NewEpoch(const std::string& epoch);
  // Forgets the change log up to and including `version`.
  void TrimLogThrough(uint64_t version);
  // Loses every change after `version`, epoch unchanged (a backup restored
  // in place). Entries stay as they are.
  void RollBackTo(uint64_t version);
  // Reads (ReadSnapshot, ChangesSince, Version) fail with `status`; OK
  // heals them.
  void FailReads(absl::Status status);
  // MergeLogins waits until Release() (holding nothing the other calls
  // need); returns at once after it.
  void HoldMerges();
  void ReleaseMerges();
  // MergeLogins calls so far, and the logins of each.
  std::vector<size_t> merge_sizes() const;

  std::string Name() const override { return "fake"; }
  std::string Epoch() const override;
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
  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override;

 private:
  // Records one change at the next version.
  void ChangeLocked(const std::string& address, int64_t ticks, bool removed,
                    MutationResult* result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::string epoch_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<StateChange> log_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status read_failure_ ABSL_GUARDED_BY(mu_);
  bool hold_merges_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<size_t> merge_sizes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_COORDINATOR_FAKE_STORE_H_
