#include "coordinator/sync_stream.h"

#include <grpcpp/server_context.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/address.h"
#include "common/json_string.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "coordinator/open_streams.h"
#include "coordinator/sync_input.h"
#include "proto/relaysync/v1/limits.h"
#include "rpc/grpc_status.h"

namespace relaysync {

using v1::CoordinatorMessage;

// A checked host id and user name fit a store's attribution.
static_assert(kMaxTextField <= kMaxAttributionField);

SyncStream::SyncStream(const SyncStreamShared& shared,
                       grpc::CallbackServerContext* context, Caller caller)
    : shared_(shared),
      context_(context),
      caller_(std::move(caller)),
      feed_(shared.store, shared.hub, shared.expire_after) {
  StartRead(&in_);  // the hello
}

void SyncStream::Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }

void SyncStream::Unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void SyncStream::Schedule(std::function<void()> task) {
  Ref();
  shared_.workers->Post([this, task = std::move(task)] {
    task();
    Unref();
  });
}

void SyncStream::End(grpc::Status status) {
  {
    absl::MutexLock l(&mu_);
    if (end_.has_value()) return;
    end_ = std::move(status);
  }
  Pump();
}

void SyncStream::OnCancel() {
  End(ToGrpcStatus(absl::CancelledError("stream cancelled")));
}

void SyncStream::OnReadDone(bool ok) {
  if (!ok) {
    // The agent closed its side, or the call is gone.
    End(grpc::Status::OK);
    return;
  }
  bool hello_done;
  int handle;
  {
    absl::MutexLock l(&mu_);
    if (end_.has_value()) return;  // refused or ending: read nothing more
    hello_done = hello_done_;
    handle = registry_handle_;
  }
  if (!hello_done) {
    // Reads are sequential: the next one starts after the hello is handled.
    if (!in_.has_hello()) {
      End(ToGrpcStatus(absl::InvalidArgumentError(
          "hello: the first message of a Sync stream must be a hello")));
      return;
    }
    if (absl::Status s = CheckHello(in_.hello()); !s.ok()) {
      End(ToGrpcStatus(s));
      return;
    }
    if (grpc::Status s =
            shared_.authorizer->CheckHostId(caller_, in_.hello().host_id());
        !s.ok()) {
      End(std::move(s));
      return;
    }
    Schedule([this] { HandleHello(); });  // reads the store
    return;
  }
  if (in_.has_logins()) {
    shared_.registry->Seen(handle);
    HandleLogins(in_.logins());  // reading goes on once merged
    return;
  }
  if (in_.has_hello()) {
    End(ToGrpcStatus(
        absl::InvalidArgumentError("hello: sent twice on one stream")));
    return;
  }
  if (in_.has_applied()) {
    shared_.registry->SetApplied(handle, in_.applied().version());
  }
  ContinueReading();
}

void SyncStream::HandleHello() {
  const v1::Hello& hello = in_.hello();  // no read is in flight
  const absl::StatusOr<std::optional<uint64_t>> start =
      feed_.Start(hello);  // reads the store
  if (!start.ok()) {
    End(ToGrpcStatus(start.status()));
    return;
  }
  const std::optional<uint64_t> from = *start;
  // Subscribed outside mu_: the hub calls Pump() with its own lock held.
  const int subscription = shared_.hub->Subscribe([this] { HubMoved(); });
  bool keep;
  {
    absl::MutexLock l(&mu_);
    keep = !end_.has_value();
    if (keep) {
      host_id_ = hello.host_id();
      accepts_deferred_ = hello.accepts_deferred();
      registry_handle_ = shared_.registry->Add(
          AgentInfo{host_id_, context_->peer(), hello.applied_version(),
                    shared_.clock->NowSeconds()});
      subscription_ = subscription;
      hello_done_ = true;
    }
  }
  if (!keep) {
    shared_.hub->Unsubscribe(subscription);
    return;
  }
  LogInfo("agent ", hello.host_id(), " connected from ", context_->peer(),
          from.has_value() ? absl::StrCat(" at version ", *from)
                           : " (needs a snapshot)");
  Pump();
  ContinueReading();
}

void SyncStream::CountWrite() const {
  const CoordinatorMetrics& m = shared_.metrics;
  if (out_.has_deltas()) {
    m.pushes.Increment();
    m.pushed_changes.Increment(out_.deltas().deltas_size());
    // ByteSizeLong caches the size, which the serialization reuses.
    m.push_bytes.Observe(static_cast<double>(out_.ByteSizeLong()));
  } else if (out_.has_snapshot()) {
    m.snapshots.Increment();
  }
}

std::string SyncStream::host_id() const {
  absl::MutexLock l(&mu_);
  return host_id_;
}

void SyncStream::HandleLogins(const v1::LoginBatch& batch) {
  shared_.metrics.logins_received.Increment(batch.events_size());
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  if (!checked.ok()) {
    End(ToGrpcStatus(checked.status()));
    return;
  }
  const std::string host = host_id();
  if (absl::Duration retry_after; !shared_.limiter->Admit(
          host, batch.events_size(), absl::Now(), &retry_after)) {
    Defer(host, batch, retry_after);
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
                 absl::StrCat("agent ", host, ": dropping ", d.line));
    reject(std::move(d.event_id), std::move(d.reason));
  }
  std::vector<Login> logins;
  logins.reserve(checked->logins.size());
  const int64_t now = shared_.clock->NowSeconds();
  const std::string who = absl::StrCat("agent ", host);
  for (size_t i = 0; i < checked->logins.size(); ++i) {
    Login& login = checked->logins[i];
    const v1::LoginEvent& event = batch.events(checked->positions[i]);
    if (absl::Status s =
            shared_.gate->Admit(*Address::Parse(login.address), who);
        !s.ok()) {
      shared_.authorizer->refusals().Count(Refusal::kNeverRelay);
      reject(event.event_id(), std::string(s.message()));
      continue;
    }
    // Bytes as the agent sent them, cut to the limit: escaped where shown
    // (logs, audit, vsmtprelay --attribution), kept exact in the store.
    const std::string user(
        absl::string_view(event.user()).substr(0, kMaxTextField));
    if (!shared_.user_limit->Admit(user, login.address, now)) {
      reject(event.event_id(), RefuseOverUserLimit(host, user, login.address));
      continue;
    }
    // Both within kMaxAttributionField: CheckHello, the cut above.
    login.who = Attribution{host, user};
    logins.push_back(std::move(login));
  }
  shared_.registry->CountRejected(static_cast<int64_t>(rejected.size()));
  shared_.metrics.logins_rejected.Increment(
      static_cast<double>(rejected.size()));
  std::vector<std::string> ids = std::move(checked->event_ids);
  Ref();
  shared_.commits->Merge(
      std::move(logins),
      [this, ids = std::move(ids), rejected = std::move(rejected)](
          const absl::StatusOr<uint64_t>& merged) mutable {
        MergeDone(std::move(ids), std::move(rejected), merged);
        Unref();
      });
}

void SyncStream::Defer(const std::string& host, const v1::LoginBatch& batch,
                       absl::Duration retry_after) {
  const RateLimit& limit = shared_.limiter->limit();
  const std::string why = absl::StrCat(
      "logins: host ", host, " is over its limit of ", limit.per_second,
      " logins/s (burst ", limit.burst, "); retry in ",
      absl::FormatDuration(absl::Ceil(retry_after, absl::Milliseconds(1))));
  shared_.authorizer->refusals().Count(Refusal::kLoginRate);
  bool accepts;
  bool audit = false;
  int64_t suppressed = 0;
  {
    absl::MutexLock l(&mu_);
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
    if (accepts) feed_.Defer(batch, retry_after, why, limit.per_second);
  }
  if (audit) {
    shared_.authorizer->Refused(
        caller_, "sync",
        suppressed == 0
            ? why
            : absl::StrCat(why, " (", suppressed,
                           " more batches refused since the last record)"));
  }
  if (!accepts) {
    // An agent from before Deferred: ending the stream is the only refusal
    // it understands; it reconnects after a backoff.
    End(ToGrpcStatus(absl::ResourceExhaustedError(why)));
    return;
  }
  Pump();
  ContinueReading();
}

std::string SyncStream::RefuseOverUserLimit(const std::string& host,
                                            const std::string& user,
                                            const std::string& address) {
  const UserAddressLimitOptions& o = shared_.user_limit->options();
  std::string quoted;
  AppendJsonString(&quoted, user);
  const std::string why =
      absl::StrCat("user ", quoted, " already has ", o.max_addresses,
                   " addresses granted in ", absl::FormatDuration(o.window),
                   "; ", address, " from host ", host, " is not granted");
  static RateLimitedLog* const warnings = new RateLimitedLog(absl::Seconds(10));
  warnings->Log(LogLevel::kWarning, absl::StrCat("refused: ", why));
  shared_.authorizer->refusals().Count(Refusal::kUserAddresses);
  AuditRecord record;
  record.identity = caller_.identity;
  record.peer = caller_.peer;
  record.action = "login";
  record.addresses = {address};
  record.result = absl::StrCat("refused: ", why);
  shared_.authorizer->audit()->Write(record);
  return why;
}

void SyncStream::MergeDone(std::vector<std::string> ids,
                           std::vector<v1::Rejected> rejected,
                           const absl::StatusOr<uint64_t>& merged) {
  if (!merged.ok()) {
    // Not acknowledged: the agent keeps the events and re-sends them.
    End(ToGrpcStatus(absl::UnavailableError(
        absl::StrCat("store: ", merged.status().message()))));
    return;
  }
  // Sent once the agent has been sent the state up to *merged (see
  // StateWriter::MergeLogins).
  feed_.Merged(*merged, std::move(ids), std::move(rejected));
  Pump();
  ContinueReading();
}

void SyncStream::ContinueReading() {
  {
    absl::MutexLock l(&mu_);
    if (end_.has_value()) return;
    if (feed_.Unsent() > shared_.max_unsent) {
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
    absl::MutexLock l(&mu_);
    read_starting_ = false;
    ending = end_.has_value();
  }
  if (ending) Pump();
}

void SyncStream::OnWriteDone(bool ok) {
  bool snapshot_sent;
  {
    absl::MutexLock l(&mu_);
    write_in_flight_ = false;
    snapshot_sent = out_.has_snapshot() && out_.snapshot().last();
  }
  if (snapshot_sent) ReleaseSnapshotSlot();
  if (!ok) {
    End(ToGrpcStatus(absl::UnavailableError("agent went away")));
    return;
  }
  Pump();
  bool resume = false;
  {
    absl::MutexLock l(&mu_);
    if (read_paused_ && !end_.has_value() &&
        feed_.Unsent() <= shared_.max_unsent) {
      read_paused_ = false;
      resume = true;
    }
  }
  if (resume) ContinueReading();
}

bool SyncStream::CheckStalled(std::chrono::steady_clock::time_point now) {
  const auto limit = absl::ToChronoNanoseconds(shared_.stall_timeout);
  const std::string timeout = absl::FormatDuration(shared_.stall_timeout);
  std::string host;
  std::string why;
  bool stalled = false;
  {
    absl::MutexLock l(&mu_);
    if (end_.has_value() || finished_) return false;
    if (write_in_flight_ && now - write_started_ >= limit) {
      stalled = true;
      why = absl::StrCat("stalled, no message taken for ", timeout);
    } else if (!hello_done_ && now - opened_ >= limit) {
      why = absl::StrCat("no hello within ", timeout);
    } else {
      return false;
    }
    host = host_id_.empty() ? "(before hello)" : host_id_;
    end_ = ToGrpcStatus(
        absl::DeadlineExceededError(absl::StrCat(why, " (--stall-timeout)")));
  }
  static RateLimitedLog* const stalls = new RateLimitedLog(absl::Seconds(10));
  stalls->Log(LogLevel::kWarning,
              absl::StrCat("agent ", host, " from ", caller_.peer, ": ", why,
                           "; ending its stream (--stall-timeout)"));
  if (stalled) {
    // The write the agent does not take never completes by itself: cancel
    // it, and OnWriteDone(false) finishes the stream.
    context_->TryCancel();
  } else {
    Pump();  // finishes with the status, which the client then reads
  }
  return true;
}

void SyncStream::ReleaseSnapshotSlot() {
  {
    absl::MutexLock l(&mu_);
    if (!holds_snapshot_slot_) return;
    holds_snapshot_slot_ = false;
  }
  shared_.snapshots->Release();
}

void SyncStream::HubMoved() {
  feed_.HubMoved();
  Pump();
}

void SyncStream::Pump(bool beat) {
  bool write = false;
  std::optional<grpc::Status> finish;
  bool pace = false;
  AgentFeed::Load load = AgentFeed::Load::kNone;
  {
    absl::MutexLock l(&mu_);
    if (beat) paced_ = false;
    if (finished_ || write_in_flight_) return;
    if (end_.has_value()) {
      if (read_starting_) return;  // ContinueReading() pumps again
      finished_ = true;
      finish = *end_;
    } else if (hello_done_) {
      // With many agents, a push sooner than the pacer's interval after
      // the last one waits for its next beat, so that each carries more
      // changes. Snapshot chunks go back to back.
      const auto now = std::chrono::steady_clock::now();
      if (!beat && !feed_.SnapshotNext() &&
          !shared_.pacer->Due(last_push_, now)) {
        pace = !paced_;
        paced_ = true;
      } else {
        write = feed_.Next(&out_, &load);
        if (write) {
          write_in_flight_ = true;
          write_started_ = now;
          if (!out_.has_snapshot()) last_push_ = now;
          CountWrite();
        }
      }
    }
  }
  // Outside mu_: gRPC may run a reaction of this stream inline, and the
  // pacer, the slots and the workers take their own locks.
  if (finish.has_value()) {
    Finish(*finish);
  } else if (write) {
    StartWrite(&out_);
  } else if (pace) {
    Ref();  // until the beat
    shared_.pacer->WaitForBeat([this] {
      Pump(/*beat=*/true);
      Unref();
    });
  }
  if (load != AgentFeed::Load::kNone) StartLoad(load);
}

void SyncStream::StartLoad(AgentFeed::Load load) {
  if (load == AgentFeed::Load::kSnapshot) {
    Ref();  // until the slot is granted
    shared_.snapshots->Acquire([this] {
      Schedule([this] { LoadSnapshot(); });
      Unref();
    });
    return;
  }
  Schedule([this, load] {
    absl::Status s = feed_.RunLoad(load);
    if (!s.ok()) {
      End(ToGrpcStatus(s));
      return;
    }
    Pump();
  });
}

void SyncStream::LoadSnapshot() {
  bool ended;
  {
    // The slot is ours; a stream that ended while it waited gives it back.
    absl::MutexLock l(&mu_);
    ended = done_ || end_.has_value();
    if (!ended) holds_snapshot_slot_ = true;
  }
  if (ended) {
    feed_.CancelLoad();
    shared_.snapshots->Release();
    Pump();
    return;
  }
  absl::Status s = feed_.RunLoad(AgentFeed::Load::kSnapshot);
  if (!s.ok()) {
    ReleaseSnapshotSlot();
    End(ToGrpcStatus(s));
    return;
  }
  Pump();
}

void SyncStream::OnDone() {
  int subscription;
  int handle;
  std::string host;
  grpc::Status status;
  {
    absl::MutexLock l(&mu_);
    subscription = subscription_;
    handle = registry_handle_;
    host = host_id_;
    if (end_.has_value()) status = *end_;
    done_ = true;
  }
  ReleaseSnapshotSlot();
  // After Unsubscribe returns the hub no longer calls Pump().
  if (subscription >= 0) shared_.hub->Unsubscribe(subscription);
  if (handle >= 0) shared_.registry->Remove(handle);
  if (!host.empty()) {
    LogInfo("agent ", host, " disconnected",
            status.ok() ? "" : absl::StrCat(": ", status.error_message()));
  }
  shared_.streams->Remove(this);
  Unref();
}

}  // namespace relaysync
