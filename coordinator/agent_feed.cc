#include "coordinator/agent_feed.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "proto/relaysync/v1/limits.h"
#include "rpc/wire.h"

namespace relaysync {

using v1::CoordinatorMessage;

namespace {

absl::Status StoreFailed(const absl::Status& s) {
  return absl::UnavailableError(absl::StrCat("store: ", s.message()));
}

// A store read that failed for one stream. Every stream sees the same
// failure at once (Redis loading its AOF, say) and its agent retries within
// a second: one line for all of them every 10 s, with a count of the rest.
void LogReadFailure(const std::string& host, absl::string_view what,
                    const absl::Status& s) {
  static RateLimitedLog* const log = new RateLimitedLog(absl::Seconds(10));
  log->Log(LogLevel::kWarning,
           absl::StrCat("agent ", host, ": ", what, ": ", s.message()));
}

}  // namespace

AgentFeed::AgentFeed(Store* store, ChangeHub* hub, absl::Duration expire_after)
    : store_(store), hub_(hub), expire_after_(expire_after) {}

absl::StatusOr<std::optional<uint64_t>> AgentFeed::Start(
    const v1::Hello& hello) {
  // Deltas only make sense for a version of this store's history that the
  // store has reached; anything else (new agent, replaced or rolled-back
  // store) is answered with a snapshot.
  absl::StatusOr<uint64_t> current = store_->Version();
  // A store that cannot answer now has not lost the agent's state: telling
  // the agent to re-send its whole map would queue every entry, through the
  // login rate limit, ahead of its new logins (the chaos soak lost 17,985
  // logins to it). The agent retries within a second.
  if (!current.ok()) return StoreFailed(current.status());
  const std::string store_epoch = store_->Epoch();
  absl::MutexLock l(&mu_);
  host_id_ = hello.host_id();
  acks_in_deltas_ = hello.accepts_acks_in_deltas();
  if (hello.store_epoch() == store_epoch &&
      hello.applied_version() <= *current) {
    epoch_ = hello.store_epoch();
    next_version_ = hello.applied_version();
  } else {
    need_snapshot_ = true;
    // The agent applied state this store no longer has: its map is the
    // best copy of what was lost, so it re-sends it.
    resend_ = !hello.store_epoch().empty();
  }
  // First of all: the agent expires entries by it on its own while no
  // coordinator is reachable.
  CoordinatorMessage policy;
  policy.mutable_expiry_policy()->set_expire_after_seconds(
      std::max<int64_t>(0, absl::ToInt64Seconds(expire_after_)));
  outbox_.push_front(std::move(policy));
  if (need_snapshot_) return std::nullopt;
  return next_version_;
}

void AgentFeed::HubMoved() {
  absl::MutexLock l(&mu_);
  ++hub_wakes_;
}

bool AgentFeed::SnapshotNext() const {
  absl::MutexLock l(&mu_);
  return !outbox_.empty() && outbox_.front().has_snapshot();
}

bool AgentFeed::Next(CoordinatorMessage* out, Load* load) {
  absl::MutexLock l(&mu_);
  *load = Load::kNone;
  if (outbox_.empty() && !loading_) *load = NextStateLocked();
  if (!outbox_.empty()) {
    *out = std::move(outbox_.front());
    outbox_.pop_front();
    if (acks_in_deltas_ && out->has_deltas() &&
        out->deltas().deltas_size() > 0) {
      // The acks these deltas cover ride along instead of following.
      const v1::DeltaBatch& batch = out->deltas();
      const uint64_t through = batch.deltas(batch.deltas_size() - 1).version();
      if (!TakeDueAcksLocked(through, out->mutable_deltas()->mutable_ack())) {
        out->mutable_deltas()->clear_ack();
      }
    }
    return true;
  }
  out->Clear();
  if (deferred_.event_ids_size() > 0) {
    *out->mutable_deferred() = std::move(deferred_);
    deferred_.Clear();
    return true;
  }
  return TakeDueAcksLocked(next_version_, out->mutable_ack());
}

bool AgentFeed::TakeDueAcksLocked(uint64_t through, v1::Ack* ack) {
  // Acknowledgements go after the deltas they cover: an agent drops its
  // own pending login on the ack, and must have the cluster's copy first.
  auto due = std::stable_partition(
      acks_.begin(), acks_.end(),
      [through](const PendingAck& a) { return a.version <= through; });
  for (auto it = acks_.begin(); it != due; ++it) {
    for (std::string& id : it->ids) ack->add_event_ids(std::move(id));
    for (v1::Rejected& r : it->rejected) *ack->add_rejected() = std::move(r);
  }
  const bool any = due != acks_.begin();
  acks_.erase(acks_.begin(), due);
  return any;
}

AgentFeed::Load AgentFeed::NextStateLocked() {
  if (!need_snapshot_ && epoch_ != store_->Epoch()) {
    LogWarning("agent ", host_id_,
               ": store epoch changed (store replaced "
               "or restarted empty); resynchronizing");
    need_snapshot_ = true;
    resend_ = true;
  }
  if (need_snapshot_) {
    loading_ = true;
    return Load::kSnapshot;
  }
  if (idle_at_wakes_ == hub_wakes_) return Load::kNone;
  idle_at_wakes_.reset();
  load_wakes_ = hub_wakes_;
  if (next_version_ > hub_->latest()) {
    // The agent is ahead of the hub: either a commit not yet published
    // (wait for it) or a store that went back in time (resync).
    loading_ = true;
    return Load::kVersion;
  }
  std::vector<StateChange> changes;
  if (!hub_->Read(epoch_, next_version_, kMaxDeltasPerMessage, &changes)) {
    loading_ = true;
    load_since_ = next_version_;
    return Load::kChanges;
  }
  QueueDeltasLocked(changes);
  return Load::kNone;
}

void AgentFeed::QueueDeltasLocked(const std::vector<StateChange>& changes) {
  if (changes.empty()) return;
  CoordinatorMessage msg;
  v1::DeltaBatch* batch = msg.mutable_deltas();
  batch->set_store_epoch(epoch_);
  for (const StateChange& c : changes) ToProto(c, batch->add_deltas());
  outbox_.push_back(std::move(msg));
  next_version_ = changes.back().version;
}

absl::Status AgentFeed::RunLoad(Load load) {
  switch (load) {
    case Load::kNone:
      return absl::OkStatus();
    case Load::kSnapshot:
      return LoadSnapshot();
    case Load::kChanges:
      return LoadChanges();
    case Load::kVersion:
      CheckAhead();
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

void AgentFeed::CancelLoad() {
  absl::MutexLock l(&mu_);
  loading_ = false;
}

absl::Status AgentFeed::LoadSnapshot() {
  absl::StatusOr<Snapshot> snap = store_->ReadSnapshot();
  if (!snap.ok()) {
    absl::MutexLock l(&mu_);
    LogReadFailure(host_id_, "snapshot", snap.status());
    loading_ = false;
    return StoreFailed(snap.status());
  }
  std::deque<CoordinatorMessage> chunks;
  size_t i = 0;
  do {
    CoordinatorMessage msg;
    v1::SnapshotChunk* chunk = msg.mutable_snapshot();
    chunk->set_version(snap->version);
    chunk->set_store_epoch(snap->epoch);
    for (size_t n = 0; n < kSnapshotChunkEntries && i < snap->entries.size();
         ++n, ++i) {
      ToProto(snap->entries[i], chunk->add_entries());
    }
    chunk->set_last(i >= snap->entries.size());
    chunks.push_back(std::move(msg));
  } while (i < snap->entries.size());
  std::string host;
  {
    absl::MutexLock l(&mu_);
    for (CoordinatorMessage& msg : chunks) {
      msg.mutable_snapshot()->set_resend(resend_);
      outbox_.push_back(std::move(msg));
    }
    epoch_ = snap->epoch;
    next_version_ = snap->version;
    need_snapshot_ = false;
    resend_ = false;
    loading_ = false;
    idle_at_wakes_.reset();
    // Versions of another epoch mean nothing now; the snapshot is all the
    // store has, so every waiting acknowledgement can go after it.
    for (PendingAck& a : acks_) a.version = 0;
    host = host_id_;
  }
  LogInfo("agent ", host, ": sending snapshot of ", snap->entries.size(),
          " entries at version ", snap->version);
  return absl::OkStatus();
}

absl::Status AgentFeed::LoadChanges() {
  uint64_t since;
  {
    absl::MutexLock l(&mu_);
    since = load_since_;
  }
  absl::StatusOr<std::vector<StateChange>> changes =
      store_->ChangesSince(since, kMaxDeltasPerMessage);
  absl::MutexLock l(&mu_);
  loading_ = false;
  if (!changes.ok()) {
    if (changes.status().code() == absl::StatusCode::kOutOfRange) {
      need_snapshot_ = true;
      return absl::OkStatus();
    }
    LogReadFailure(host_id_, "reading changes", changes.status());
    return StoreFailed(changes.status());
  }
  if (next_version_ == since && !need_snapshot_) {
    // Nothing newer in the store yet: wait for the hub to move.
    if (changes->empty()) idle_at_wakes_ = load_wakes_;
    QueueDeltasLocked(*changes);
  }
  return absl::OkStatus();
}

void AgentFeed::CheckAhead() {
  absl::StatusOr<uint64_t> version = store_->Version();
  absl::MutexLock l(&mu_);
  loading_ = false;
  if (version.ok() && *version < next_version_) {
    LogWarning("agent ", host_id_, " has version ", next_version_,
               ", the store only ", *version, ": resynchronizing");
    need_snapshot_ = true;
    resend_ = true;
  } else {
    idle_at_wakes_ = load_wakes_;  // a commit on its way to the hub
  }
}

void AgentFeed::Merged(uint64_t version, std::vector<std::string> ids,
                       std::vector<v1::Rejected> rejected) {
  absl::MutexLock l(&mu_);
  acks_.push_back(PendingAck{version, std::move(ids), std::move(rejected)});
}

void AgentFeed::Defer(const v1::LoginBatch& batch, absl::Duration retry_after,
                      const std::string& reason, double logins_per_second) {
  absl::MutexLock l(&mu_);
  for (const v1::LoginEvent& e : batch.events()) {
    deferred_.add_event_ids(e.event_id());
  }
  // Rounded up: an agent that retries exactly on time is admitted.
  deferred_.set_retry_after_ms(std::max<int64_t>(
      deferred_.retry_after_ms(), absl::ToInt64Milliseconds(absl::Ceil(
                                      retry_after, absl::Milliseconds(1)))));
  deferred_.set_reason(reason);
  deferred_.set_logins_per_second(logins_per_second);
}

size_t AgentFeed::Unsent() const {
  absl::MutexLock l(&mu_);
  size_t n = static_cast<size_t>(deferred_.event_ids_size());
  for (const PendingAck& a : acks_) n += a.ids.size();
  return n;
}

}  // namespace relaysync
