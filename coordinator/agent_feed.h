// AgentFeed: what one agent's Sync stream sends it, and in which order,
// decided without gRPC. First the expiry policy; then a snapshot, or the
// deltas the agent lacks since the version it has applied; the Deferred
// answer to batches over its login rate; and the acknowledgement of each
// merged batch once the agent has been sent the state the batch is in (an
// agent drops its own pending login on the acknowledgement, so it must
// have the cluster's copy first), inside the DeltaBatch that covers it
// when the agent takes that. Deltas come from the ChangeHub while it
// holds them. A snapshot, older deltas, and the version check of an agent
// that claims to be ahead of the hub are store reads: Next() asks for one,
// and the stream runs it with Load() on a thread that may block.
//
// Thread-safe. SyncStream calls in with its own lock held (its lock comes
// first); the feed calls nothing of the stream's.
#ifndef RELAYSYNC_COORDINATOR_AGENT_FEED_H_
#define RELAYSYNC_COORDINATOR_AGENT_FEED_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/store/store.h"
#include "coordinator/change_hub.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {

class AgentFeed {
 public:
  // A store read the feed needs before it can go on.
  enum class Load {
    kNone,
    kSnapshot,  // the whole state; run it once holding a SnapshotSlots slot
    kChanges,   // deltas older than the hub holds
    kVersion,   // the agent is ahead of the hub: a store gone back in time?
  };

  // None owned; both outlive the feed. `expire_after` is the expiry policy
  // told to the agent (zero or less: never).
  AgentFeed(Store* store, ChangeHub* hub, absl::Duration expire_after);

  // The agent's hello. Reads the store (blocks). Deltas follow on from the
  // agent's applied version if this store, in the same epoch, has reached
  // it; anything else (a new agent, a replaced or rolled-back store) gets
  // a snapshot, and an agent that had applied state of another epoch is
  // told to re-send its map. Returns the version the deltas start after,
  // or nullopt when a snapshot comes first. Call once, before Next().
  // Unavailable when the store cannot say its version now (Redis down or
  // loading its AOF): that is no sign it lost the agent's state, and the
  // agent is to come back rather than re-send its map.
  absl::StatusOr<std::optional<uint64_t>> Start(const v1::Hello& hello);

  // The hub published or reset.
  void HubMoved();

  // Moves the next message due into `*out` and returns true, or returns
  // false when nothing is due now. Sets `*load` to the store read the feed
  // needs first (it is under way until Load() returns or CancelLoad()).
  bool Next(v1::CoordinatorMessage* out, Load* load);
  // Whether the next message is a snapshot chunk (chunks go back to back,
  // never paced).
  bool SnapshotNext() const;

  // Runs the store read Next() asked for; blocks. An error means the
  // stream cannot go on (Unavailable, "store: ...").
  absl::Status RunLoad(Load load);
  // The read Next() asked for will not run (the stream ended meanwhile).
  void CancelLoad();

  // A merged batch: `ids` are acknowledged, `rejected` (some of them) with
  // their reasons, once the agent has been sent the state up to `version`.
  void Merged(uint64_t version, std::vector<std::string> ids,
              std::vector<v1::Rejected> rejected);
  // A batch over the login rate: its ids go into the next Deferred, with
  // the longest wait asked of any batch in it, rounded up to a millisecond.
  void Defer(const v1::LoginBatch& batch, absl::Duration retry_after,
             const std::string& reason, double logins_per_second);
  // Event ids waiting for their acknowledgement or Deferred.
  size_t Unsent() const;

 private:
  struct PendingAck {
    uint64_t version;
    std::vector<std::string> ids;
    std::vector<v1::Rejected> rejected;  // some of `ids`, with why
  };

  // Queues the state the agent lacks in outbox_ from the hub, or returns
  // the store read that will.
  Load NextStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueDeltasLocked(const std::vector<StateChange>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the acknowledgements due once the agent has applied `through`
  // into `*ack`; false if there were none.
  bool TakeDueAcksLocked(uint64_t through, v1::Ack* ack)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadSnapshot();
  absl::Status LoadChanges();
  void CheckAhead();

  Store* const store_;
  ChangeHub* const hub_;
  const absl::Duration expire_after_;

  mutable absl::Mutex mu_;
  std::string host_id_ ABSL_GUARDED_BY(mu_);  // for log lines
  // The hello's accepts_acks_in_deltas: due acks ride in DeltaBatch.ack.
  bool acks_in_deltas_ ABSL_GUARDED_BY(mu_) = false;
  // The epoch and version the agent has, or will have once it applies what
  // was sent; whether it needs a snapshot and must re-send its map.
  std::string epoch_ ABSL_GUARDED_BY(mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool need_snapshot_ ABSL_GUARDED_BY(mu_) = false;
  bool resend_ ABSL_GUARDED_BY(mu_) = false;
  // A store read is under way; for kChanges and kVersion, what it was asked
  // with: the version and the hub wake-ups then.
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t load_since_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t load_wakes_ ABSL_GUARDED_BY(mu_) = 0;
  // Hub wake-ups seen, and their count when a store read found nothing to
  // send (nothing newer, or a commit still on its way to the hub): until
  // the next wake-up there is nothing to ask the store.
  uint64_t hub_wakes_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> idle_at_wakes_ ABSL_GUARDED_BY(mu_);
  // The expiry policy, snapshot chunks, deltas.
  std::deque<v1::CoordinatorMessage> outbox_ ABSL_GUARDED_BY(mu_);
  // Over-limit batches not yet answered: one Deferred carries them all.
  v1::Deferred deferred_ ABSL_GUARDED_BY(mu_);
  // Sent once next_version_ covers them.
  std::vector<PendingAck> acks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_AGENT_FEED_H_
