// CoordinatorClient: the agent's side of the Sync stream. Sends a hello with
// the last applied version, re-sends every spooled login until it is
// acknowledged, applies snapshots, deltas and the expiry policy through the
// Materializer, and reconnects with backoff, failing over between
// coordinators. One connection attempt is a SyncSession (sync_session.h).
#ifndef RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_
#define RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_state.h"
#include "agent/materializer.h"
#include "agent/spool.h"
#include "agent/sync_signal.h"
#include "rpc/tls.h"

namespace relaysync {

class LocalRecorder;
class SyncSession;

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
  // stream stays up (see ApplyLoop in sync_session.cc).
  absl::Duration map_retry_min = absl::Seconds(1);
  absl::Duration map_retry_max = absl::Seconds(30);
  // Changes read from the coordinator but not yet applied, at most (one
  // message more): while the map cannot be written the agent stops
  // reading there, and the coordinator ends the stalled stream
  // (--stall-timeout) instead of the agent queueing every change.
  size_t max_queued_changes = 100000;
  // The applied version is saved at most this often (re-applying after a
  // crash is harmless: deltas set absolute values).
  absl::Duration save_interval = absl::Milliseconds(200);
  // The applied version is reported to the coordinator (for its Status) at
  // most this often: per map write it would double the stream's traffic.
  absl::Duration report_interval = absl::Milliseconds(200);
  absl::Duration keepalive = absl::Seconds(10);
  TlsFiles tls;  // mutual TLS, or tls.insecure
};

// Thread-safe. Start() runs the sessions on a thread of its own; the rest
// of the agent wakes it through `signal` (new logins in the spool).
class CoordinatorClient {
 public:
  // None owned; all must outlive the client. `recorder` re-spools the map
  // when the store lost state. `state` holds the epoch and version at start
  // and is updated (and saved to `state_file`) as state is applied.
  CoordinatorClient(const CoordinatorClientOptions& options, Spool* spool,
                    Materializer* materializer, LocalRecorder* recorder,
                    SyncSignal* signal, AgentStateFile* state_file,
                    AgentState state);
  ~CoordinatorClient();

  void Start();
  // Stops the signal, ends the stream and the thread; saves the applied
  // version.
  void Stop();
  // Ends the stream and connects again at once, to the same coordinator,
  // with credentials made afresh from the TLS files (SIGHUP: a renewed
  // certificate is presented now, not at the next reconnect). Logins in
  // flight stay spooled and are sent again; the hello resumes from the
  // applied version. Between attempts, nothing to do: the next one reads
  // the files anyway.
  void Reconnect();

  bool connected() const { return connected_; }
  // The version applied to the map (0 before the first snapshot).
  uint64_t applied_version() const { return applied_.applied_version(); }
  // Logins the coordinator refused for good since the start (each logged
  // with why, and dropped from the spool).
  int64_t rejected() const { return rejected_.load(); }

 private:
  void Run();

  const CoordinatorClientOptions options_;
  Spool* const spool_;
  Materializer* const materializer_;
  LocalRecorder* const recorder_;
  SyncSignal* const signal_;
  AppliedState applied_;
  std::atomic<bool> connected_{false};  // set by the sessions
  std::atomic<int64_t> rejected_{0};    // counted by the sessions
  std::thread thread_;
  // The session Run() is in, for Reconnect().
  absl::Mutex session_mu_;
  SyncSession* session_ ABSL_GUARDED_BY(session_mu_) = nullptr;
  bool reconnect_ ABSL_GUARDED_BY(session_mu_) = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_COORDINATOR_CLIENT_H_
