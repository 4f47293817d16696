// SyncStream: one agent's Sync stream, as a gRPC callback reactor. It reads
// the hello and login batches, hands the batches to the service's group
// commit and acknowledges them once durable, and pushes the agent a snapshot
// or deltas whenever the ChangeHub moves.
//
// No thread belongs to a stream: reactions run on gRPC's threads and must
// not block, so store reads (hello, snapshots, deltas older than the hub)
// go to the service's worker threads, and a publish writes to every stream
// from the publishing thread. One write is in flight at a time; what is
// decided while it is out is sent from OnWriteDone.
#ifndef RELAYSYNC_COORDINATOR_SYNC_STREAM_H_
#define RELAYSYNC_COORDINATOR_SYNC_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/store.h"
#include "common/clock.h"
#include "common/never_relay_gate.h"
#include "coordinator/agent_registry.h"
#include "coordinator/authorizer.h"
#include "coordinator/change_hub.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/snapshot_slots.h"
#include "coordinator/user_address_limit.h"
#include "relaysync/v1/relaysync.pb.h"

namespace grpc {
class CallbackServerContext;
}

namespace relaysync {

class SyncStream;

// What a stream needs from the service that owns it.
struct SyncStreamDeps {
  Store* store = nullptr;
  ChangeHub* hub = nullptr;
  AgentRegistry* registry = nullptr;
  const Clock* clock = nullptr;
  // The expiry policy, told to every agent first (zero or less: never).
  absl::Duration expire_after;
  Authorizer* authorizer = nullptr;  // checks the hello's host id
  // Logins for addresses it refuses are acknowledged and dropped.
  NeverRelayGate* gate = nullptr;
  RateLimiter* limiter = nullptr;          // per host id, across streams
  UserAddressLimit* user_limit = nullptr;  // addresses per user
  // Runs blocking work (store reads) on a worker thread.
  std::function<void(std::function<void()>)> post;
  // Group-commits a login batch; `done` runs on the committing thread with
  // the highest version the commit produced.
  std::function<void(std::vector<Login>,
                     std::function<void(absl::StatusOr<uint64_t>)>)>
      merge;
  // Called once from OnDone: the service stops pumping the stream.
  std::function<void(SyncStream*)> forget;
  // The least time between two pushes to one agent; zero: no pacing. A
  // push due sooner waits for Paced(), which the PushPacer calls for every
  // waiting stream at once, on a beat of that period.
  std::function<std::chrono::microseconds()> push_interval;
  // Registers the stream for the next beat, holding a reference until then.
  std::function<void(SyncStream*)> pace;
  // Backpressure: once more event ids than this wait to be acknowledged
  // (or deferred), the stream reads nothing more until writes drain them.
  // Each stream so has at most one batch merging and this many ids queued.
  size_t max_unsent = 10000;
  // A write outstanding this long ends the stream (CheckStalled).
  absl::Duration stall_timeout = absl::Seconds(60);
  SnapshotSlots* snapshots = nullptr;  // snapshots held in memory at once
};

class SyncStream final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage> {
 public:
  // `caller` holds the agent role (checked by the service); its hello may
  // name only the host id its identity grants.
  SyncStream(const SyncStreamDeps& deps, grpc::CallbackServerContext* context,
             Caller caller);

  // Sends what is due, if no write is in flight: the snapshot or deltas the
  // agent lacks, then acknowledgements. Never blocks; thread-safe.
  void Pump() { Pump(false); }
  // The hub published or reset: pumps, and ends an idle wait.
  void HubMoved();
  // Ends the stream with `status` once the write in flight is done.
  void End(grpc::Status status);
  // The beat the stream waited for (SyncStreamDeps::pace): sends.
  void Paced();
  // Ends the stream (cancelling the write the agent does not take) when
  // one write has been outstanding for stall_timeout at `now`. Returns
  // whether it did. Called by the service now and then.
  bool CheckStalled(std::chrono::steady_clock::time_point now);

  // Keep the stream alive across work that outlives its callbacks (worker
  // tasks, merges, service-wide pumps); the last Unref after OnDone
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
  struct PendingAck {
    uint64_t version;
    std::vector<std::string> ids;
    std::vector<v1::Rejected> rejected;  // some of `ids`, with why
  };

  ~SyncStream() override = default;

  // `beat`: called from Paced(), so a paced push may go.
  void Pump(bool beat);
  void HandleHello();                        // worker thread
  void HandleLogins(const v1::LoginBatch&);  // reaction
  // Logs (rate-limited) and audits a login over its user's address limit;
  // returns why.
  std::string RefuseOverUserLimit(const std::string& user,
                                  const std::string& address);
  // The batch is over this host's login rate limit: answered with a
  // Deferred (or, for an agent that cannot take one, the stream ends with
  // RESOURCE_EXHAUSTED). Either way nothing is acknowledged or merged.
  void Defer(const v1::LoginBatch& batch, absl::Duration retry_after);
  void MergeDone(std::vector<std::string> ids,
                 std::vector<v1::Rejected> rejected,
                 const absl::StatusOr<uint64_t>& merged);
  void ContinueReading();
  // Event ids waiting to be acknowledged or deferred (mu_ held).
  size_t UnsentLocked() const;
  // Gives the snapshot slot back once the last chunk is written.
  void ReleaseSnapshotSlot();
  // Decides the next message (mu_ held): true with out_ filled and
  // write_in_flight_ set. May schedule a store read instead.
  bool NextMessageLocked();
  // Queues the state the agent lacks in outbox_, from the hub, or schedules
  // the store read that will.
  void NextStateLocked();
  void QueueDeltasLocked(const std::vector<StateChange>& changes);
  void LoadSnapshot();                               // worker thread
  void LoadChanges(uint64_t since, uint64_t wakes);  // worker thread
  void CheckAhead(uint64_t wakes);                   // worker thread
  // Runs `task` on a worker thread, holding a reference.
  void Schedule(std::function<void()> task);

  const SyncStreamDeps deps_;
  grpc::CallbackServerContext* const context_;
  const Caller caller_;
  v1::AgentMessage in_;         // the read in flight
  v1::CoordinatorMessage out_;  // the write in flight

  std::atomic<int> refs_{1};  // the gRPC call's own, dropped in OnDone

  std::mutex mu_;
  bool hello_done_ = false;
  std::string host_id_;
  int registry_handle_ = -1;
  int subscription_ = -1;
  // The epoch and version the agent has, or will have once it applies what
  // was sent; whether it needs a snapshot and must re-send its map.
  std::string epoch_;
  uint64_t next_version_ = 0;
  bool need_snapshot_ = false;
  bool resend_ = false;
  bool accepts_deferred_ = false;  // from the hello
  // Over-limit batches not yet answered (one Deferred carries them all),
  // and the refusals not yet audited: at most one audit record a second
  // per stream, so a hostile agent cannot flood the audit log.
  v1::Deferred deferred_;
  absl::Time last_deferral_audit_ = absl::InfinitePast();
  int64_t unaudited_deferrals_ = 0;
  bool loading_ = false;  // a store read for this stream is under way
  // Hub wake-ups seen, and their count when a store read found nothing to
  // send (nothing newer, or a commit still on its way to the hub): until
  // the next wake-up there is nothing to ask the store.
  uint64_t hub_wakes_ = 0;
  std::optional<uint64_t> idle_at_wakes_;
  // The expiry policy, snapshot chunks, deltas.
  std::deque<v1::CoordinatorMessage> outbox_;
  std::vector<PendingAck> acks_;  // sent once next_version_ covers them
  bool write_in_flight_ = false;
  std::chrono::steady_clock::time_point write_started_;
  bool read_paused_ = false;  // over max_unsent: ContinueReading() waits
  bool holds_snapshot_slot_ = false;
  bool done_ = false;  // OnDone() ran
  // When the last push (deltas or acks) started; whether the stream waits
  // for the service's next beat.
  std::chrono::steady_clock::time_point last_push_;
  bool paced_ = false;
  bool read_starting_ = false;       // StartRead is being called, outside mu_
  std::optional<grpc::Status> end_;  // End() was called
  bool finished_ = false;            // Finish() was called
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_STREAM_H_
