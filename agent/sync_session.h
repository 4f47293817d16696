// SyncSession: one connection attempt of the CoordinatorClient — a Sync
// stream and its three threads. The caller's thread sends (the hello, the
// spooled logins not yet on this stream, the applied version); a reader
// queues what the coordinator sends; an applier applies it in order through
// the Materializer and hands acknowledgements to the spool. The reconnect
// loop around it is in coordinator_client.cc.
#ifndef RELAYSYNC_AGENT_SYNC_SESSION_H_
#define RELAYSYNC_AGENT_SYNC_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_state.h"
#include "agent/coordinator_client.h"
#include "agent/local_recorder.h"
#include "agent/materializer.h"
#include "agent/send_window.h"
#include "agent/spool.h"
#include "agent/sync_signal.h"
#include "common/relay_state.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

namespace relaysync {

class SyncSession {
 public:
  // What a session works with; none owned, all outlive it (the client owns
  // or borrows them for its whole life, across sessions).
  struct Collaborators {
    const CoordinatorClientOptions* options;
    Spool* spool;                // sent from; acknowledgements retire logins
    Materializer* materializer;  // snapshots, deltas, policy, acks
    LocalRecorder* recorder;     // re-spools the map when the store lost it
    AppliedState* applied;       // what the map reflects, for the hello
    SyncSignal* signal;          // wakes the sending thread; Stop ends it
    // Read by the client's accessors from any thread.
    std::atomic<bool>* connected;    // a coordinator answered this stream
    std::atomic<int64_t>* rejected;  // logins refused for good, all streams
  };

  SyncSession(const Collaborators& with, std::string target);

  // Runs until the stream fails, the signal stops or Cancel(). Returns true
  // if the coordinator answered at all (resets the backoff).
  bool Run();
  // Ends Run() within its next wait (about 100 ms), quietly, from any
  // thread: the client is reconnecting on purpose (SIGHUP).
  void Cancel();
  // The coordinator ended the stream with RESOURCE_EXHAUSTED (this host's
  // login rate limit): its logins stay spooled for a later attempt.
  bool throttled() const { return throttled_; }
  // The attempt reached no coordinator: it failed UNAVAILABLE or
  // DEADLINE_EXCEEDED before any message came back.
  bool unreachable() const { return unreachable_; }

 private:
  // Snapshots from this size on give their memory back to the system.
  static constexpr size_t kTrimAfterEntries = 10000;
  // What the reader hands the applier, in stream order.
  struct Incoming {
    enum Kind { kDeltas, kSnapshot, kAck, kPolicy };
    explicit Incoming(Kind k) : kind(k) {}
    Kind kind;
    std::vector<StateChange> changes;  // kDeltas
    std::vector<StateEntry> entries;   // kSnapshot
    uint64_t version = 0;              // kSnapshot
    std::string epoch;                 // kDeltas, kSnapshot
    bool resend = false;               // kSnapshot
    // kSnapshot: handed to the materializer (entries moved out), and how
    // many entries it had.
    bool taken = false;
    size_t size = 0;
    v1::Ack ack;                       // kAck
    int64_t expire_after_seconds = 0;  // kPolicy
    // What it counts against max_queued_changes.
    size_t Size() const { return changes.size() + entries.size(); }
  };

  // Logs (rate-limited) that the coordinator cannot be reached, and what
  // happens meanwhile.
  void Unreachable(absl::string_view why);
  // Sending thread: reports the applied version, at most every
  // report_interval. False if the stream failed.
  bool MaybeReportApplied();
  // How long the sending thread may sleep before it looks again.
  absl::Duration NextWait(absl::Time now);

  void ReadLoop();
  // Reader thread: applies `in` here (ApplyHere, when the Read that
  // brought it found the stream `idle`) or queues it for the applier,
  // waiting for room. False once the session is ending.
  bool Take(Incoming& in, bool idle);
  // Reader thread: applies `in` (deltas or an ack that arrived on an idle
  // stream) itself when nothing is queued or being applied, which saves
  // the applier's wake-up, two context switches a message. False (and `in`
  // untouched): queue it. A failure is queued for the applier to retry.
  bool ApplyHere(Incoming& in);
  // Applies what the reader queued, in order. While the map cannot be
  // written it stops applying (the stream stays up) until WaitForMap()
  // says it can again.
  void ApplyLoop();
  // Applies `batch` from the front, removing what is done; stops at the
  // first map failure. Runs of delta messages that arrived while the
  // previous map write was in progress become one write (one flock +
  // fsync), so an agent under load catches up instead of falling behind by
  // one fsync per message.
  absl::Status ApplyBatch(std::deque<Incoming>* batch, bool* wake);
  // Retries the map on a backoff until it can be written again (true) or
  // the stream ends (false).
  bool WaitForMap(absl::Status failure);
  absl::Status ApplyDeltas(std::vector<StateChange>* changes,
                           const std::string& epoch);
  // Clears `resend` once the entries are spooled, so a retry after a map
  // failure does not spool them twice.
  absl::Status ApplySnapshot(Incoming* snapshot);
  // The coordinator's expiry policy: to the map, and to the state file.
  absl::Status ApplyPolicy(int64_t expire_after_seconds);
  // Sends the spooled logins not yet on this stream, unless a Deferred
  // holds them back: then `resume_at_` says until when.
  bool SendPending();
  // The spool retires the acknowledged logins, and the materializer stops
  // keeping those it retired as pending. Returns the map write's status
  // (the ack itself is taken either way).
  absl::Status HandleAck(const v1::Ack& ack);
  // Reader thread: the coordinator put these events off (rate limit).
  void HandleDeferred(const v1::Deferred& deferred);

  const Collaborators with_;
  const std::string target_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
      stream_;
  std::atomic<bool> reader_done_{false};  // or the applier failed
  // The sending thread's last look at the spool found the window full:
  // logins wait for acknowledgements. Only then does an ack wake it; an
  // ack of logins already sent leaves it nothing to do, and waking it cost
  // a context switch per local login. Set before it looks, so an ack that
  // lands while it looks still wakes it.
  std::atomic<bool> window_full_{true};
  std::atomic<bool> heard_back_{false};
  std::atomic<bool> cancel_requested_{false};

  // The reader's queue for the applier.
  absl::Mutex queue_mu_;
  std::deque<Incoming> queue_ ABSL_GUARDED_BY(queue_mu_);
  // Entries and deltas read but not yet applied (queued or in the
  // applier's batch).
  size_t queued_changes_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool reading_done_ ABSL_GUARDED_BY(queue_mu_) = false;
  // One thread applies at a time, in stream order: the applier while it
  // holds a batch, or the reader in ApplyHere.
  bool applier_busy_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool reader_applying_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(queue_mu_) = false;  // Run() is ending

  // Deferred events to send again (the reader hands them to the sending
  // thread, which owns window_), and when sending may resume.
  absl::Mutex deferred_mu_;
  std::vector<std::string> deferred_ids_ ABSL_GUARDED_BY(deferred_mu_);
  absl::Time resume_at_ ABSL_GUARDED_BY(deferred_mu_) = absl::InfinitePast();
  double pace_rate_ ABSL_GUARDED_BY(deferred_mu_) = 0;

  // Sending thread only (the one in Run()).
  SendWindow window_;
  uint64_t reported_version_ = 0;
  absl::Time last_report_ = absl::InfinitePast();
  // Logins it may send now while paced, and when that allowance was last
  // topped up.
  double allowance_ = 0;
  absl::Time allowance_at_ = absl::InfinitePast();
  bool throttled_ = false;
  bool unreachable_ = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SYNC_SESSION_H_
