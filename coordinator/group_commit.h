// GroupCommit: how the login batches of every Sync stream reach the store.
// Batches queue here, and a merge thread takes everything queued while the
// previous commit ran (up to 20,000 logins) into one StateWriter call: the
// per-commit cost (an fsync, a script round trip) is shared by as many
// batches as arrived meanwhile. A store that serves concurrent merges
// (Store::concurrent_merges) gets that many threads.
#ifndef RELAYSYNC_COORDINATOR_GROUP_COMMIT_H_
#define RELAYSYNC_COORDINATOR_GROUP_COMMIT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backends/store/store.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/state_writer.h"

namespace relaysync {

class GroupCommit {
 public:
  // Runs on a merge thread once a batch is durable, with the version that
  // covers it (StateWriter::MergeLogins), or the commit's error.
  using Done = std::function<void(const absl::StatusOr<uint64_t>&)>;

  // `writer` (and `metrics`, null: none) are not owned and must outlive
  // this. Starts `threads` (at least one) merge threads.
  GroupCommit(StateWriter* writer, int threads,
              const CoordinatorMetrics* metrics = nullptr);
  // Stop().
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `logins` (canonical addresses) for the next commit.
  // Thread-safe. The queue is unbounded: each stream keeps at most one
  // batch here (it reads its next one once this one is merged).
  void Merge(std::vector<Login> logins, Done done);

  // Commits what is queued, then joins the threads. Idempotent; no Merge
  // after it.
  void Stop();

 private:
  struct Job {
    std::vector<Login> logins;
    Done done;
  };

  void Loop();
  // Takes the next group from the queue; empty once stopping with nothing
  // queued.
  std::vector<Job> NextGroup();

  StateWriter* const writer_;
  const CoordinatorMetrics metrics_;  // copied handles

  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // joined by the first Stop()
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_GROUP_COMMIT_H_
