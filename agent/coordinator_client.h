// CoordinatorClient: the agent's side of the Sync stream. Sends a hello with
// the last applied version, re-sends every spooled login until it is
// acknowledged, applies snapshots, deltas and the expiry policy through the
// Materializer, and reconnects with backoff, failing over between
// coordinators.
#ifndef RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_
#define RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "agent/agent_state.h"
#include "agent/materializer.h"
#include "agent/spool.h"
#include "rpc/tls.h"

namespace relaysync {

struct CoordinatorClientOptions {
  std::vector<std::string> coordinators;  // gRPC targets, tried in order
  std::string host_id;
  // Between attempts that reached a coordinator (it answered, then ended
  // the stream) the wait grows to max_backoff: retrying costs it a hello
  // and a snapshot or deltas. An attempt that reached none (no route,
  // refused, timed out, or ended UNAVAILABLE before any message) costs a
  // coordinator next to nothing, so those waits stop growing at
  // unreachable_max_backoff: after a partition heals, or a coordinator
  // comes back, the agent is connected again within about that long.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration unreachable_max_backoff = absl::Seconds(1);
  // Each attempt gets a fresh connection, which must be up (TCP and TLS)
  // within this long, or the attempt is given up and the next one starts
  // at once. With TCP's first SYN retransmission after 1 s, an attempt
  // made while partitioned still gets through within about 1 s of the
  // heal: one left to gRPC would wait out its 20 s connect deadline with
  // SYNs 1, 2, 4, 8 s apart.
  absl::Duration connect_timeout = absl::Seconds(2);
  // A map that cannot be written is retried on its own backoff while the
  // stream stays up (see ApplyLoop in coordinator_client.cc).
  absl::Duration map_retry_min = absl::Seconds(1);
  absl::Duration map_retry_max = absl::Seconds(30);
  // The applied version is saved at most this often (re-applying after a
  // crash is harmless: deltas set absolute values).
  absl::Duration save_interval = absl::Milliseconds(200);
  // The applied version is reported to the coordinator (for its Status) at
  // most this often: per map write it would double the stream's traffic.
  absl::Duration report_interval = absl::Milliseconds(200);
  absl::Duration keepalive = absl::Seconds(10);
  TlsFiles tls;  // mutual TLS, or tls.insecure
};

class CoordinatorClient {
 public:
  // None owned; all must outlive the client. `state` holds the epoch and
  // version at start and is updated as state is applied.
  CoordinatorClient(const CoordinatorClientOptions& options, Spool* spool,
                    Materializer* materializer, AgentStateFile* state_file,
                    AgentState state);
  ~CoordinatorClient();

  void Start();
  // Ends the stream and the thread; saves the applied version.
  void Stop();
  // New logins are in the spool: send them now.
  void Wake();

  bool connected() const { return connected_; }
  // The version applied to the map (0 before the first snapshot).
  uint64_t applied_version() const;
  // Logins the coordinator refused for good since the start (each logged
  // with why, and dropped from the spool).
  int64_t rejected() const { return rejected_.load(); }

 private:
  class Session;
  void Run();
  void SaveState(bool force);

  const CoordinatorClientOptions options_;
  Spool* const spool_;
  Materializer* const materializer_;
  AgentStateFile* const state_file_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  AgentState state_;          // guarded by mu_
  bool state_dirty_ = false;  // guarded by mu_
  absl::Time last_save_ = absl::InfinitePast();
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> rejected_{0};
  std::thread thread_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_
