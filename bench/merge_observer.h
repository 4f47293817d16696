// MergeObserver: a Sync stream to the coordinator that reports, in version
// order, every address the coordinator publishes. The propagation benchmark
// uses it to learn the order in which deltas will reach every agent's map
// (see presence_tracker.h) and when the coordinator merged each login. It
// poses as one more agent that never sends logins, so it adds one stream to
// the coordinator's fan-out.
#ifndef RELAYSYNC_BENCH_MERGE_OBSERVER_H_
#define RELAYSYNC_BENCH_MERGE_OBSERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rpc/tls.h"

namespace grpc {
class ClientContext;
}

namespace relaysync::bench {

class MergeObserver {
 public:
  // Called from the observer's thread for every address in the snapshot and
  // in each delta (removals included), in the order received.
  using Callback = std::function<void(const std::string& address)>;

  // Connects with `tls`, as host id "propagation-bench-observer".
  MergeObserver(std::string target, TlsFiles tls, Callback callback);
  ~MergeObserver();  // Stop()
  MergeObserver(const MergeObserver&) = delete;
  MergeObserver& operator=(const MergeObserver&) = delete;

  // Opens the stream and waits (up to `timeout`) for the coordinator's first
  // message, its snapshot: from then on no change can be missed.
  absl::Status Start(absl::Duration timeout);
  // Cancels the stream and joins the thread. Idempotent.
  void Stop();
  // True while the stream is up (false after an error or Stop()).
  bool running() const { return running_; }

 private:
  struct Stream;
  void ReadLoop();

  const std::string target_;
  const TlsFiles tls_;
  const Callback callback_;
  std::unique_ptr<Stream> stream_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> first_message_{false};
};

}  // namespace relaysync::bench

#endif  // RELAYSYNC_BENCH_MERGE_OBSERVER_H_
