// WorkerPool: a few threads for the blocking work that must not run on
// gRPC's threads: the Sync streams' store reads (a hello's version check,
// snapshots, deltas older than the ChangeHub holds). Tasks run in the
// order they were posted, several at once.
#ifndef RELAYSYNC_COORDINATOR_WORKER_POOL_H_
#define RELAYSYNC_COORDINATOR_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace relaysync {

class WorkerPool {
 public:
  // Starts `threads` (at least one).
  explicit WorkerPool(int threads);
  // Stop().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a worker thread. Thread-safe.
  void Post(std::function<void()> task);

  // Runs what is queued, then joins the threads. Idempotent; no Post after
  // it.
  void Stop();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // joined by the first Stop()
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_WORKER_POOL_H_
