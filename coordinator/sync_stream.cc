#include "coordinator/sync_stream.h"

#include <grpcpp/server_context.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/address.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "coordinator/limits.h"
#include "coordinator/sync_input.h"
#include "rpc/grpc_status.h"

namespace relaysync {

using v1::CoordinatorMessage;

// A checked host id and user name fit a store's attribution.
static_assert(kMaxTextField <= kMaxAttributionField);

SyncStream::SyncStream(const SyncStreamDeps& deps,
                       grpc::CallbackServerContext* context, Caller caller)
    : deps_(deps), context_(context), caller_(std::move(caller)) {
  StartRead(&in_);  // the hello
}

void SyncStream::Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }

void SyncStream::Unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void SyncStream::Schedule(std::function<void()> task) {
  Ref();
  deps_.post([this, task = std::move(task)] {
    task();
    Unref();
  });
}

void SyncStream::End(grpc::Status status) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (end_.has_value()) return;
    end_ = std::move(status);
  }
  Pump();
}

void SyncStream::OnCancel() {
  End(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
}

void SyncStream::OnReadDone(bool ok) {
  if (!ok) {
    // The agent closed its side, or the call is gone.
    End(grpc::Status::OK);
    return;
  }
  bool hello_done;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (end_.has_value()) return;  // refused or ending: read nothing more
    hello_done = hello_done_;
  }
  if (!hello_done) {
    // Reads are sequential: the next one starts after the hello is handled.
    if (!in_.has_hello()) {
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "hello: the first message of a Sync stream must be a "
                       "hello"));
      return;
    }
    if (absl::Status s = CheckHello(in_.hello()); !s.ok()) {
      End(ToGrpcStatus(s));
      return;
    }
    if (grpc::Status s =
            deps_.authorizer->CheckHostId(caller_, in_.hello().host_id());
        !s.ok()) {
      End(std::move(s));
      return;
    }
    Schedule([this] { HandleHello(); });  // reads the store
    return;
  }
  if (in_.has_logins()) {
    HandleLogins(in_.logins());  // reading goes on once merged
    return;
  }
  if (in_.has_hello()) {
    End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "hello: sent twice on one stream"));
    return;
  }
  if (in_.has_applied()) {
    int handle;
    {
      std::lock_guard<std::mutex> l(mu_);
      handle = registry_handle_;
    }
    deps_.registry->SetApplied(handle, in_.applied().version());
  }
  ContinueReading();
}

void SyncStream::HandleHello() {
  const v1::Hello& hello = in_.hello();  // no read is in flight
  // Deltas only make sense for a version of this store's history that the
  // store has reached; anything else (new agent, replaced or rolled-back
  // store) is answered with a snapshot.
  absl::StatusOr<uint64_t> current = deps_.store->Version();
  const std::string store_epoch = deps_.store->Epoch();
  // Subscribed outside mu_: the hub calls Pump() with its own lock held.
  const int subscription = deps_.hub->Subscribe([this] { HubMoved(); });
  bool keep;
  bool snapshot;
  uint64_t from;
  {
    std::lock_guard<std::mutex> l(mu_);
    keep = !end_.has_value();
    if (keep) {
      host_id_ = hello.host_id();
      accepts_deferred_ = hello.accepts_deferred();
      if (hello.store_epoch() == store_epoch && current.ok() &&
          hello.applied_version() <= *current) {
        epoch_ = hello.store_epoch();
        next_version_ = hello.applied_version();
      } else {
        need_snapshot_ = true;
        // The agent applied state this store no longer has: its map is the
        // best copy of what was lost, so it re-sends it.
        resend_ = !hello.store_epoch().empty();
      }
      registry_handle_ = deps_.registry->Add(
          AgentInfo{host_id_, context_->peer(), hello.applied_version(),
                    deps_.clock->NowSeconds()});
      subscription_ = subscription;
      hello_done_ = true;
      // First of all: the agent expires entries by it on its own while no
      // coordinator is reachable.
      CoordinatorMessage policy;
      policy.mutable_expiry_policy()->set_expire_after_seconds(
          std::max<int64_t>(0, absl::ToInt64Seconds(deps_.expire_after)));
      outbox_.push_front(std::move(policy));
    }
    snapshot = need_snapshot_;
    from = next_version_;
  }
  if (!keep) {
    deps_.hub->Unsubscribe(subscription);
    return;
  }
  LogInfo(
      "agent ", hello.host_id(), " connected from ", context_->peer(),
      snapshot ? " (needs a snapshot)" : absl::StrCat(" at version ", from));
  Pump();
  ContinueReading();
}

void SyncStream::HandleLogins(const v1::LoginBatch& batch) {
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  if (!checked.ok()) {
    End(ToGrpcStatus(checked.status()));
    return;
  }
  if (absl::Duration retry_after; !deps_.limiter->Admit(
          host_id_, batch.events_size(), absl::Now(), &retry_after)) {
    Defer(batch, retry_after);
    return;
  }
  // Refused for good: acknowledged (never re-sent) with the reason, which
  // the agent logs; its own map drops them on the acknowledgement.
  std::vector<v1::Rejected> rejected;
  auto reject = [&](std::string id, std::string reason) {
    v1::Rejected r;
    r.set_event_id(std::move(id));
    r.set_reason(std::move(reason));
    rejected.push_back(std::move(r));
  };
  static RateLimitedLog* const invalid = new RateLimitedLog(absl::Seconds(10));
  for (CheckedLogins::Dropped& d : checked->dropped) {
    invalid->Log(LogLevel::kWarning,
                 absl::StrCat("agent ", host_id_, ": dropping ", d.line));
    reject(std::move(d.event_id), std::move(d.reason));
  }
  std::vector<Login> logins;
  logins.reserve(checked->logins.size());
  const int64_t now = deps_.clock->NowSeconds();
  const std::string who = absl::StrCat("agent ", host_id_);
  for (size_t i = 0; i < checked->logins.size(); ++i) {
    Login& login = checked->logins[i];
    const v1::LoginEvent& event = batch.events(checked->positions[i]);
    if (absl::Status s = deps_.gate->Admit(*Address::Parse(login.address), who);
        !s.ok()) {
      reject(event.event_id(), std::string(s.message()));
      continue;
    }
    // Bytes as the agent sent them, cut to the limit: escaped where shown
    // (logs, audit, vsmtprelay --attribution), kept exact in the store.
    const std::string user(
        absl::string_view(event.user()).substr(0, kMaxTextField));
    if (!deps_.user_limit->Admit(user, login.address, now)) {
      reject(event.event_id(), RefuseOverUserLimit(user, login.address));
      continue;
    }
    // Both within kMaxAttributionField: CheckHello, the cut above.
    login.who = Attribution{host_id_, user};
    logins.push_back(std::move(login));
  }
  deps_.registry->CountRejected(static_cast<int64_t>(rejected.size()));
  std::vector<std::string> ids = std::move(checked->event_ids);
  Ref();
  deps_.merge(std::move(logins),
              [this, ids = std::move(ids), rejected = std::move(rejected)](
                  const absl::StatusOr<uint64_t>& merged) mutable {
                MergeDone(std::move(ids), std::move(rejected), merged);
                Unref();
              });
}

void SyncStream::Defer(const v1::LoginBatch& batch,
                       absl::Duration retry_after) {
  const RateLimit& limit = deps_.limiter->limit();
  const std::string why = absl::StrCat(
      "logins: host ", host_id_, " is over its limit of ", limit.per_second,
      " logins/s (burst ", limit.burst, "); retry in ",
      absl::FormatDuration(absl::Ceil(retry_after, absl::Milliseconds(1))));
  bool accepts;
  bool audit = false;
  int64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    accepts = accepts_deferred_;
    const absl::Time now = absl::Now();
    if (now - last_deferral_audit_ >= absl::Seconds(1)) {
      audit = true;
      suppressed = unaudited_deferrals_;
      unaudited_deferrals_ = 0;
      last_deferral_audit_ = now;
    } else {
      ++unaudited_deferrals_;
    }
    if (accepts) {
      for (const v1::LoginEvent& e : batch.events()) {
        deferred_.add_event_ids(e.event_id());
      }
      // Rounded up: an agent that retries exactly on time is admitted.
      deferred_.set_retry_after_ms(
          std::max<int64_t>(deferred_.retry_after_ms(),
                            absl::ToInt64Milliseconds(absl::Ceil(
                                retry_after, absl::Milliseconds(1)))));
      deferred_.set_reason(why);
      deferred_.set_logins_per_second(limit.per_second);
    }
  }
  if (audit) {
    deps_.authorizer->Refused(
        caller_, "sync",
        suppressed == 0
            ? why
            : absl::StrCat(why, " (", suppressed,
                           " more batches refused since the last record)"));
  }
  if (!accepts) {
    // An agent from before Deferred: ending the stream is the only refusal
    // it understands; it reconnects after a backoff.
    End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
    return;
  }
  Pump();
  ContinueReading();
}

std::string SyncStream::RefuseOverUserLimit(const std::string& user,
                                            const std::string& address) {
  const UserAddressLimitOptions& o = deps_.user_limit->options();
  const std::string why = absl::StrCat(
      "user \"", JsonEscape(user), "\" already has ", o.max_addresses,
      " addresses granted in ", absl::FormatDuration(o.window), "; ", address,
      " from host ", host_id_, " is not granted");
  static RateLimitedLog* const warnings = new RateLimitedLog(absl::Seconds(10));
  warnings->Log(LogLevel::kWarning, absl::StrCat("refused: ", why));
  AuditRecord record;
  record.identity = caller_.identity;
  record.peer = caller_.peer;
  record.action = "login";
  record.addresses = {address};
  record.result = absl::StrCat("refused: ", why);
  deps_.authorizer->audit()->Write(record);
  return why;
}

void SyncStream::MergeDone(std::vector<std::string> ids,
                           std::vector<v1::Rejected> rejected,
                           const absl::StatusOr<uint64_t>& merged) {
  if (!merged.ok()) {
    // Not acknowledged: the agent keeps the events and re-sends them.
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("store: ", merged.status().message())));
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    // Sent once the agent has been sent the state up to *merged (see
    // StateWriter::MergeLogins).
    acks_.push_back(PendingAck{*merged, std::move(ids), std::move(rejected)});
  }
  Pump();
  ContinueReading();
}

size_t SyncStream::UnsentLocked() const {
  size_t n = static_cast<size_t>(deferred_.event_ids_size());
  for (const PendingAck& a : acks_) n += a.ids.size();
  return n;
}

void SyncStream::ContinueReading() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (end_.has_value()) return;
    if (UnsentLocked() > deps_.max_unsent) {
      // Backpressure: what the agent sends next waits in its socket (and
      // spool) until it has taken our answers; OnWriteDone resumes.
      read_paused_ = true;
      return;
    }
    read_starting_ = true;  // Finish() waits: no StartRead after it
  }
  StartRead(&in_);
  bool ending;
  {
    std::lock_guard<std::mutex> l(mu_);
    read_starting_ = false;
    ending = end_.has_value();
  }
  if (ending) Pump();
}

void SyncStream::OnWriteDone(bool ok) {
  bool snapshot_sent;
  {
    std::lock_guard<std::mutex> l(mu_);
    write_in_flight_ = false;
    snapshot_sent = out_.has_snapshot() && out_.snapshot().last();
  }
  if (snapshot_sent) ReleaseSnapshotSlot();
  if (!ok) {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent went away"));
    return;
  }
  Pump();
  bool resume = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (read_paused_ && !end_.has_value() &&
        UnsentLocked() <= deps_.max_unsent) {
      read_paused_ = false;
      resume = true;
    }
  }
  if (resume) ContinueReading();
}

bool SyncStream::CheckStalled(std::chrono::steady_clock::time_point now) {
  std::string host;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!write_in_flight_ || end_.has_value() || finished_ ||
        now - write_started_ < absl::ToChronoNanoseconds(deps_.stall_timeout)) {
      return false;
    }
    host = host_id_.empty() ? "(before hello)" : host_id_;
    end_ = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("stalled: the agent took no message for ",
                                     absl::FormatDuration(deps_.stall_timeout),
                                     " (--stall-timeout)"));
  }
  static RateLimitedLog* const stalls = new RateLimitedLog(absl::Seconds(10));
  stalls->Log(LogLevel::kWarning,
              absl::StrCat("agent ", host, " from ", caller_.peer,
                           ": stalled, no message taken for ",
                           absl::FormatDuration(deps_.stall_timeout),
                           "; ending its stream (--stall-timeout)"));
  // The write the agent does not take never completes by itself: cancel
  // it, and OnWriteDone(false) finishes the stream.
  context_->TryCancel();
  return true;
}

void SyncStream::ReleaseSnapshotSlot() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!holds_snapshot_slot_) return;
    holds_snapshot_slot_ = false;
  }
  deps_.snapshots->Release();
}

void SyncStream::HubMoved() {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++hub_wakes_;
  }
  Pump();
}

void SyncStream::Paced() {
  {
    std::lock_guard<std::mutex> l(mu_);
    paced_ = false;
  }
  Pump(/*beat=*/true);
}

void SyncStream::Pump(bool beat) {
  bool write = false;
  std::optional<grpc::Status> finish;
  bool pace = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (finished_ || write_in_flight_) return;
    if (end_.has_value()) {
      if (read_starting_) return;  // ContinueReading() pumps again
      finished_ = true;
      finish = *end_;
    } else if (hello_done_) {
      // With many agents, a push sooner than push_interval() after the
      // last one waits for the service's next beat, so that each carries
      // more changes (PushPacer). Snapshot chunks go back
      // to back.
      const bool snapshot = !outbox_.empty() && outbox_.front().has_snapshot();
      const auto now = std::chrono::steady_clock::now();
      if (!beat && !snapshot && now < last_push_ + deps_.push_interval()) {
        pace = !paced_;
        paced_ = true;
      } else {
        write = NextMessageLocked();
        if (write) write_started_ = now;
        if (write && !out_.has_snapshot()) last_push_ = now;
      }
    }
  }
  // Outside mu_: gRPC may run a reaction of this stream inline, and the
  // pacer takes its own lock.
  if (finish.has_value()) {
    Finish(*finish);
  } else if (write) {
    StartWrite(&out_);
  } else if (pace) {
    deps_.pace(this);
  }
}

bool SyncStream::NextMessageLocked() {
  if (outbox_.empty() && !loading_) NextStateLocked();
  if (!outbox_.empty()) {
    out_ = std::move(outbox_.front());
    outbox_.pop_front();
    write_in_flight_ = true;
    return true;
  }
  out_.Clear();
  if (deferred_.event_ids_size() > 0) {
    *out_.mutable_deferred() = std::move(deferred_);
    deferred_.Clear();
    write_in_flight_ = true;
    return true;
  }
  // Acknowledgements go after the deltas they cover: an agent drops its
  // own pending login on the ack, and must have the cluster's copy first.
  auto due = std::stable_partition(
      acks_.begin(), acks_.end(),
      [this](const PendingAck& a) { return a.version <= next_version_; });
  for (auto it = acks_.begin(); it != due; ++it) {
    for (std::string& id : it->ids) {
      out_.mutable_ack()->add_event_ids(std::move(id));
    }
    for (v1::Rejected& r : it->rejected) {
      *out_.mutable_ack()->add_rejected() = std::move(r);
    }
  }
  acks_.erase(acks_.begin(), due);
  if (!out_.has_ack()) return false;
  write_in_flight_ = true;
  return true;
}

void SyncStream::NextStateLocked() {
  if (!need_snapshot_ && epoch_ != deps_.store->Epoch()) {
    LogWarning("agent ", host_id_,
               ": store epoch changed (store replaced "
               "or restarted empty); resynchronizing");
    need_snapshot_ = true;
    resend_ = true;
  }
  if (need_snapshot_) {
    loading_ = true;
    Ref();  // until the slot is granted
    deps_.snapshots->Acquire([this] {
      Schedule([this] { LoadSnapshot(); });
      Unref();
    });
    return;
  }
  if (idle_at_wakes_ == hub_wakes_) return;
  idle_at_wakes_.reset();
  const uint64_t wakes = hub_wakes_;
  if (next_version_ > deps_.hub->latest()) {
    // The agent is ahead of the hub: either a commit not yet published
    // (wait for it) or a store that went back in time (resync).
    loading_ = true;
    Schedule([this, wakes] { CheckAhead(wakes); });
    return;
  }
  std::vector<StateChange> changes;
  if (!deps_.hub->Read(epoch_, next_version_, kMaxDeltasPerMessage, &changes)) {
    loading_ = true;
    Schedule(
        [this, since = next_version_, wakes] { LoadChanges(since, wakes); });
    return;
  }
  QueueDeltasLocked(changes);
}

void SyncStream::QueueDeltasLocked(const std::vector<StateChange>& changes) {
  if (changes.empty()) return;
  CoordinatorMessage msg;
  v1::DeltaBatch* batch = msg.mutable_deltas();
  batch->set_store_epoch(epoch_);
  for (const StateChange& c : changes) {
    v1::Delta* d = batch->add_deltas();
    d->set_version(c.version);
    d->set_address(c.address);
    d->set_ticks(c.ticks);
    d->set_removed(c.removed);
  }
  outbox_.push_back(std::move(msg));
  next_version_ = changes.back().version;
}

void SyncStream::LoadSnapshot() {
  bool ended;
  {
    // The slot is ours; a stream that ended while it waited gives it back.
    std::lock_guard<std::mutex> l(mu_);
    ended = done_ || end_.has_value();
    if (ended) {
      loading_ = false;
    } else {
      holds_snapshot_slot_ = true;
    }
  }
  if (ended) {
    deps_.snapshots->Release();
    Pump();
    return;
  }
  absl::StatusOr<Snapshot> snap = deps_.store->ReadSnapshot();
  if (!snap.ok()) {
    LogWarning("agent ", host_id_, ": snapshot: ", snap.status().message());
    {
      std::lock_guard<std::mutex> l(mu_);
      loading_ = false;
    }
    ReleaseSnapshotSlot();
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("store: ", snap.status().message())));
    return;
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
      v1::Entry* e = chunk->add_entries();
      e->set_address(snap->entries[i].address);
      e->set_ticks(snap->entries[i].ticks);
    }
    chunk->set_last(i >= snap->entries.size());
    chunks.push_back(std::move(msg));
  } while (i < snap->entries.size());
  {
    std::lock_guard<std::mutex> l(mu_);
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
  }
  LogInfo("agent ", host_id_, ": sending snapshot of ", snap->entries.size(),
          " entries at version ", snap->version);
  Pump();
}

void SyncStream::LoadChanges(uint64_t since, uint64_t wakes) {
  absl::StatusOr<std::vector<StateChange>> changes =
      deps_.store->ChangesSince(since, kMaxDeltasPerMessage);
  bool fail = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    loading_ = false;
    if (!changes.ok()) {
      if (changes.status().code() == absl::StatusCode::kOutOfRange) {
        need_snapshot_ = true;
      } else {
        LogWarning("agent ", host_id_,
                   ": reading changes: ", changes.status().message());
        fail = true;
      }
    } else if (next_version_ == since && !need_snapshot_) {
      // Nothing newer in the store yet: wait for the hub to move.
      if (changes->empty()) idle_at_wakes_ = wakes;
      QueueDeltasLocked(*changes);
    }
  }
  if (fail) {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("store: ", changes.status().message())));
    return;
  }
  Pump();
}

void SyncStream::CheckAhead(uint64_t wakes) {
  absl::StatusOr<uint64_t> version = deps_.store->Version();
  {
    std::lock_guard<std::mutex> l(mu_);
    loading_ = false;
    if (version.ok() && *version < next_version_) {
      LogWarning("agent ", host_id_, " has version ", next_version_,
                 ", the store only ", *version, ": resynchronizing");
      need_snapshot_ = true;
      resend_ = true;
    } else {
      idle_at_wakes_ = wakes;  // a commit on its way to the hub
    }
  }
  Pump();
}

void SyncStream::OnDone() {
  int subscription;
  int handle;
  std::string host;
  grpc::Status status;
  {
    std::lock_guard<std::mutex> l(mu_);
    subscription = subscription_;
    handle = registry_handle_;
    host = host_id_;
    if (end_.has_value()) status = *end_;
    done_ = true;
  }
  ReleaseSnapshotSlot();
  // After Unsubscribe returns the hub no longer calls Pump().
  if (subscription >= 0) deps_.hub->Unsubscribe(subscription);
  if (handle >= 0) deps_.registry->Remove(handle);
  if (!host.empty()) {
    LogInfo("agent ", host, " disconnected",
            status.ok() ? "" : absl::StrCat(": ", status.error_message()));
  }
  deps_.forget(this);
  Unref();
}

}  // namespace relaysync
