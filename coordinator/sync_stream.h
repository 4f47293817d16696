// SyncStream: one agent's Sync stream, as a gRPC callback reactor. It reads
// the hello and login batches, hands the batches to the group commit and
// has them acknowledged once durable, and writes what the stream's
// AgentFeed decides to send whenever the ChangeHub moves.
//
// This class is the reactor mechanics: reads, the one write in flight,
// ending and finishing, references. What to send is the AgentFeed's
// (agent_feed.h), when to push the PushPacer's (push_pacer.h). No thread
// belongs to a stream: reactions run on gRPC's threads and must not block,
// so store reads (hello, snapshots, deltas older than the hub) go to the
// WorkerPool, and a publish writes to every stream from the publishing
// thread. What is decided while a write is out is sent from OnWriteDone.
#ifndef RELAYSYNC_COORDINATOR_SYNC_STREAM_H_
#define RELAYSYNC_COORDINATOR_SYNC_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/store/store.h"
#include "common/clock.h"
#include "common/never_relay_gate.h"
#include "coordinator/agent_feed.h"
#include "coordinator/agent_registry.h"
#include "coordinator/authorizer.h"
#include "coordinator/change_hub.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/group_commit.h"
#include "coordinator/push_pacer.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/snapshot_slots.h"
#include "coordinator/user_address_limit.h"
#include "coordinator/worker_pool.h"
#include "relaysync/v1/relaysync.pb.h"

namespace grpc {
class CallbackServerContext;
}

namespace relaysync {

class OpenStreams;

// What every Sync stream works with. None owned: SyncService owns or
// borrows each, and they outlive every stream.
struct SyncStreamShared {
  Store* store = nullptr;
  ChangeHub* hub = nullptr;
  AgentRegistry* registry = nullptr;
  const Clock* clock = nullptr;
  Authorizer* authorizer = nullptr;  // checks the hello's host id
  // Logins for addresses it refuses are acknowledged and dropped.
  NeverRelayGate* gate = nullptr;
  RateLimiter* limiter = nullptr;          // per host id, across streams
  UserAddressLimit* user_limit = nullptr;  // addresses per user
  WorkerPool* workers = nullptr;           // runs the store reads
  GroupCommit* commits = nullptr;          // merges the login batches
  OpenStreams* streams = nullptr;          // a stream leaves it in OnDone
  PushPacer* pacer = nullptr;
  SnapshotSlots* snapshots = nullptr;  // snapshots held in memory at once
  // The expiry policy, told to every agent first (zero or less: never).
  absl::Duration expire_after;
  // Backpressure: once more event ids than this wait to be acknowledged
  // (or deferred), the stream reads nothing more until writes drain them.
  // Each stream so has at most one batch merging and this many ids queued.
  size_t max_unsent = 10000;
  // A write outstanding this long ends the stream (CheckStalled).
  absl::Duration stall_timeout = absl::Seconds(60);
  CoordinatorMetrics metrics;  // handles (default: off)
};

class SyncStream final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage> {
 public:
  // `caller` holds the agent role (checked by the service); its hello may
  // name only the host id its identity grants.
  SyncStream(const SyncStreamShared& shared,
             grpc::CallbackServerContext* context, Caller caller);

  // Sends what is due, if no write is in flight: the snapshot or deltas the
  // agent lacks, then acknowledgements. Never blocks; thread-safe.
  void Pump() { Pump(false); }
  // The hub published or reset: pumps, and ends an idle wait.
  void HubMoved();
  // Ends the stream with `status` once the write in flight is done.
  void End(grpc::Status status);
  // Ends the stream (cancelling the write the agent does not take) when
  // one write has been outstanding for stall_timeout at `now`, or when the
  // stream has been open that long without a hello (a client holding a
  // stream and its connection for nothing). Returns whether it did.
  // Called by the service now and then.
  bool CheckStalled(std::chrono::steady_clock::time_point now);

  // Keep the stream alive across work that outlives its callbacks (worker
  // tasks, merges, beats, service-wide pumps); the last Unref after OnDone
  // deletes it.
  void Ref();
  void Unref();

  // Who opened the stream (identity empty with --insecure).
  const Caller& caller() const { return caller_; }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ~SyncStream() override = default;

  // `beat`: called on the pacer's beat, so a paced push may go.
  void Pump(bool beat);
  void HandleHello();  // worker thread
  // Counts the write in out_ (a push, a snapshot chunk) in the metrics.
  void CountWrite() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string host_id() const;

  // A login batch: checked, limited, merged.
  void HandleLogins(const v1::LoginBatch& batch);  // reaction
  // Logs (rate-limited) and audits a login over its user's address limit;
  // returns why.
  std::string RefuseOverUserLimit(const std::string& host,
                                  const std::string& user,
                                  const std::string& address);
  // The batch is over this host's login rate limit: answered with a
  // Deferred (or, for an agent that cannot take one, the stream ends with
  // RESOURCE_EXHAUSTED). Either way nothing is acknowledged or merged.
  void Defer(const std::string& host, const v1::LoginBatch& batch,
             absl::Duration retry_after);
  void MergeDone(std::vector<std::string> ids,
                 std::vector<v1::Rejected> rejected,
                 const absl::StatusOr<uint64_t>& merged);

  void ContinueReading();
  // Gives the snapshot slot back once the last chunk is written.
  void ReleaseSnapshotSlot();
  // Runs the store read the feed asked for: on a worker thread, for a
  // snapshot once a slot is granted.
  void StartLoad(AgentFeed::Load load);
  void LoadSnapshot();  // worker thread, holding a slot
  // Runs `task` on a worker thread, holding a reference.
  void Schedule(std::function<void()> task);

  const SyncStreamShared shared_;
  grpc::CallbackServerContext* const context_;
  const Caller caller_;
  const std::chrono::steady_clock::time_point opened_ =
      std::chrono::steady_clock::now();
  AgentFeed feed_;              // thread-safe; taken after mu_ when both are
  v1::AgentMessage in_;         // the read in flight
  v1::CoordinatorMessage out_;  // the write in flight (filled under mu_)

  std::atomic<int> refs_{1};  // the gRPC call's own, dropped in OnDone

  mutable absl::Mutex mu_;
  bool hello_done_ ABSL_GUARDED_BY(mu_) = false;
  std::string host_id_ ABSL_GUARDED_BY(mu_);
  int registry_handle_ ABSL_GUARDED_BY(mu_) = -1;
  int subscription_ ABSL_GUARDED_BY(mu_) = -1;
  bool accepts_deferred_ ABSL_GUARDED_BY(mu_) = false;  // from the hello
  // The refusals not yet audited: at most one audit record a second per
  // stream, so a hostile agent cannot flood the audit log.
  absl::Time last_deferral_audit_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t unaudited_deferrals_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point write_started_ ABSL_GUARDED_BY(mu_);
  // Over max_unsent: ContinueReading() waits.
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool holds_snapshot_slot_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone() ran
  // When the last push (deltas or acks) started; whether the stream waits
  // for the pacer's next beat.
  std::chrono::steady_clock::time_point last_push_ ABSL_GUARDED_BY(mu_);
  bool paced_ ABSL_GUARDED_BY(mu_) = false;
  // StartRead is being called, outside mu_.
  bool read_starting_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);  // End() was called
  bool finished_ ABSL_GUARDED_BY(mu_) = false;            // Finish() was called
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_STREAM_H_
