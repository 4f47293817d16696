// SyncSession (sync_session.h): one Sync stream. The reconnect loop that
// runs sessions one after another is in coordinator_client.cc.
#include "agent/sync_session.h"

#include <grpc/grpc.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/map_trouble.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "common/thread_name.h"
#include "common/version.h"
#include "proto/relaysync/v1/limits.h"
#include "rpc/endpoints.h"
#include "rpc/wire.h"

namespace relaysync {
namespace {

// After a Deferred the agent sends at this fraction of the rate the
// coordinator named (so small timing differences do not exhaust its bucket
// again), or at kDefaultPaceRate if it named none.
constexpr double kPaceFraction = 0.95;
constexpr double kDefaultPaceRate = 100;

// A Read that waited this long found the stream idle: nothing more is
// likely behind its message, so the reader applies it (ApplyHere). A
// quicker one means a backlog, which the applier takes in one batch.
constexpr absl::Duration kIdleRead = absl::Microseconds(100);

// How a stream ends when the network, the coordinator or its store is
// down (not when the coordinator refused the agent).
bool IsUnreachable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

v1::LoginProtocol ToProto(LocalLogin::Protocol p) {
  switch (p) {
    case LocalLogin::Protocol::kPop3:
      return v1::LOGIN_PROTOCOL_POP3;
    case LocalLogin::Protocol::kImap:
      return v1::LOGIN_PROTOCOL_IMAP;
    default:
      return v1::LOGIN_PROTOCOL_UNSPECIFIED;
  }
}

}  // namespace

SyncSession::SyncSession(const Collaborators& with, std::string target)
    : with_(with), target_(std::move(target)) {}

bool SyncSession::Run() {
  const CoordinatorClientOptions& options = *with_.options;
  auto channel = MakeChannel(target_, options.keepalive, options.tls,
                             /*own_connection=*/true);
  // A coordinator that refuses connections is retried inside this wait by
  // gRPC (backoff from 100 ms), so its return is noticed at once; a TLS
  // failure ends in TRANSIENT_FAILURE and the stream below reports it.
  const auto connect_by = std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(options.connect_timeout);
  if (!channel->WaitForConnected(connect_by) &&
      channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    unreachable_ = true;
    Unreachable(absl::StrCat("no connection within ",
                             absl::FormatDuration(options.connect_timeout)));
    return false;
  }
  auto stub = v1::RelaySync::NewStub(channel);
  stream_ = stub->Sync(&context_);
  const AgentState state = with_.applied->Snapshot();
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id(options.host_id);
  hello.mutable_hello()->set_applied_version(state.applied_version);
  hello.mutable_hello()->set_store_epoch(state.store_epoch);
  hello.mutable_hello()->set_agent_version(
      absl::StrCat("relaysync-agent ", RelaysyncVersion()));
  hello.mutable_hello()->set_accepts_deferred(true);
  hello.mutable_hello()->set_accepts_acks_in_deltas(true);
  if (!stream_->Write(hello)) {
    grpc::Status s = stream_->Finish();
    unreachable_ = IsUnreachable(s);
    Unreachable(s.error_message());
    return false;
  }
  std::thread reader([this] {
    NameThisThread("sync-read");
    ReadLoop();
  });
  std::thread applier([this] {
    NameThisThread("sync-apply");
    ApplyLoop();
  });
  bool ok = true;
  while (ok && !reader_done_ && !cancel_requested_) {
    ok = SendPending() && MaybeReportApplied();
    if (with_.signal->stopping()) break;
    with_.signal->WaitForWake(NextWait(absl::Now()));
    if (absl::Status s = with_.applied->MaybeSave(); !s.ok()) {
      LogWarning("agent state: ", s.message());
    }
  }
  {
    absl::MutexLock l(&queue_mu_);
    cancelled_ = true;  // a reader waiting for room stops too
  }
  // Ended by this side (stopping, a failed write): cancel the call. Ended
  // by the coordinator: a cancel now would replace its status with
  // CANCELLED, and the backoff below tells "store down, retry soon"
  // (UNAVAILABLE) and "slow down" (RESOURCE_EXHAUSTED) apart by it.
  if (!reader_done_) context_.TryCancel();
  reader.join();
  applier.join();
  grpc::Status s = stream_->Finish();
  *with_.connected = false;
  throttled_ = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  unreachable_ = !heard_back_ && IsUnreachable(s);
  if (!s.ok() && !with_.signal->stopping() && !cancel_requested_) {
    Unreachable(absl::StrCat("stream ended: ", s.error_message()));
  }
  return heard_back_;
}

bool SyncSession::MaybeReportApplied() {
  const uint64_t applied = with_.applied->applied_version();
  const absl::Time now = absl::Now();
  if (applied == reported_version_ || !heard_back_ ||
      now - last_report_ < with_.options->report_interval) {
    return true;
  }
  last_report_ = now;
  v1::AgentMessage msg;
  msg.mutable_applied()->set_version(applied);
  reported_version_ = applied;
  return stream_->Write(msg);
}

absl::Duration SyncSession::NextWait(absl::Time now) {
  // Every 100 ms at most, when a deferral ends, and often while paced so
  // that the trickle is steady.
  absl::Duration wait = absl::Milliseconds(100);
  absl::MutexLock d(&deferred_mu_);
  if (pace_rate_ > 0) wait = absl::Milliseconds(20);
  if (resume_at_ > now) wait = std::min(wait, resume_at_ - now);
  return wait;
}

void SyncSession::Cancel() {
  cancel_requested_ = true;
  with_.signal->Wake();
}

void SyncSession::Unreachable(absl::string_view why) {
  // One for all sessions: during an outage every attempt fails alike.
  static RateLimitedLog* const log = new RateLimitedLog(absl::Seconds(30));
  log->Log(
      LogLevel::kWarning,
      absl::StrCat("coordinator ", target_, ": ", why,
                   "; logins stay spooled and relay here, and the agent "
                   "reconnects with backoff, at least every ",
                   absl::FormatDuration(with_.options->unreachable_max_backoff),
                   " while no coordinator answers"));
}

bool SyncSession::SendPending() {
  double rate;
  const absl::Time now = absl::Now();
  {
    absl::MutexLock l(&deferred_mu_);
    if (!deferred_ids_.empty()) {
      window_.Deferred(deferred_ids_);
      deferred_ids_.clear();
      allowance_ = 0;
      allowance_at_ = resume_at_;
    }
    if (now < resume_at_) return true;
    rate = pace_rate_;
  }
  // Paced (after a Deferred): a little under the host's limit, topped up
  // for the time passed but never above a tenth of a second's worth, so
  // the coordinator takes each small batch whole.
  size_t budget = SIZE_MAX;
  if (rate > 0) {
    const double cap = std::max(1.0, rate * kPaceFraction * 0.1);
    allowance_ =
        std::min(cap, allowance_ + absl::ToDoubleSeconds(now - allowance_at_) *
                                       rate * kPaceFraction);
    allowance_at_ = now;
    budget = static_cast<size_t>(allowance_);
  }
  // A window of unacknowledged logins: newer ones wait for acks.
  window_full_ = true;
  std::vector<SpooledLogin> pending =
      with_.spool->Pending(4 * kMaxLoginsPerBatch);
  window_full_ = pending.size() == 4 * kMaxLoginsPerBatch;
  const std::vector<const SpooledLogin*> to_send =
      window_.Next(pending, budget);
  const size_t sent = to_send.size();
  const bool caught_up = sent < budget;
  v1::AgentMessage msg;
  for (const SpooledLogin* login : to_send) {
    const SpooledLogin& p = *login;
    v1::LoginEvent* e = msg.mutable_logins()->add_events();
    e->set_event_id(p.event_id);
    e->set_address(p.login.address);
    e->set_login_time(p.login.login_time);
    e->set_user(p.login.user);
    e->set_protocol(ToProto(p.login.protocol));
    e->set_source(p.login.source);
    if (static_cast<size_t>(msg.logins().events_size()) == kMaxLoginsPerBatch) {
      if (!stream_->Write(msg)) return false;
      msg.Clear();
    }
  }
  if (rate > 0) {
    allowance_ -= static_cast<double>(sent);
    if (caught_up && pending.size() < 4 * kMaxLoginsPerBatch) {
      // Nothing left waiting: back to sending at once.
      absl::MutexLock l(&deferred_mu_);
      if (deferred_ids_.empty()) pace_rate_ = 0;
    }
  }
  if (msg.has_logins() && !stream_->Write(msg)) return false;
  return true;
}

absl::Status SyncSession::HandleAck(const v1::Ack& ack) {
  if (ack.rejected_size() > 0) {
    const int64_t total = with_.rejected->fetch_add(ack.rejected_size(),
                                                    std::memory_order_relaxed) +
                          ack.rejected_size();
    static RateLimitedLog* const refusals =
        new RateLimitedLog(absl::Seconds(10));
    for (const v1::Rejected& r : ack.rejected()) {
      refusals->Log(LogLevel::kWarning,
                    absl::StrCat("coordinator refused login ", r.event_id(),
                                 " for good (dropped from the spool; ", total,
                                 " so far): ", r.reason()));
    }
  }
  // Refused events are listed in event_ids too: they leave the spool alike.
  std::vector<std::string> ids(ack.event_ids().begin(), ack.event_ids().end());
  absl::StatusOr<std::vector<SpooledLogin>> retired = with_.spool->Ack(ids);
  if (!retired.ok()) {
    // Still pending, so still pending in the map too: they are sent and
    // acknowledged again on the next stream.
    LogWarning("spool: ", retired.status().message());
    return absl::OkStatus();
  }
  std::vector<std::pair<std::string, int64_t>> logins;
  logins.reserve(retired->size());
  for (const SpooledLogin& p : *retired) {
    logins.emplace_back(p.login.address, p.login.login_time);
  }
  return with_.materializer->Acknowledged(logins);
}

void SyncSession::HandleDeferred(const v1::Deferred& deferred) {
  static RateLimitedLog* const warnings = new RateLimitedLog(absl::Seconds(10));
  warnings->Log(
      LogLevel::kWarning,
      absl::StrCat("coordinator ", target_, " deferred ",
                   deferred.event_ids_size(),
                   " logins (kept in the spool): ", deferred.reason()));
  // At least a millisecond, at most a minute, whatever the wire says.
  const absl::Duration wait = absl::Milliseconds(
      std::clamp<int64_t>(deferred.retry_after_ms(), 1, 60'000));
  {
    absl::MutexLock l(&deferred_mu_);
    deferred_ids_.insert(deferred_ids_.end(), deferred.event_ids().begin(),
                         deferred.event_ids().end());
    resume_at_ = std::max(resume_at_, absl::Now() + wait);
    pace_rate_ = deferred.logins_per_second() > 0 ? deferred.logins_per_second()
                                                  : kDefaultPaceRate;
  }
  with_.signal->Wake();
}

void SyncSession::ReadLoop() {
  v1::CoordinatorMessage msg;
  Incoming snapshot(Incoming::kSnapshot);
  for (;;) {
    const absl::Time asked = absl::Now();
    if (!stream_->Read(&msg)) break;
    const bool idle = absl::Now() - asked >= kIdleRead;
    if (!heard_back_) {
      heard_back_ = true;
      *with_.connected = true;
      LogInfo("connected to coordinator ", target_);
    }
    Incoming in(Incoming::kAck);
    // The acks a DeltaBatch carries, applied after its deltas.
    std::optional<Incoming> then;
    if (msg.has_deferred()) {
      HandleDeferred(msg.deferred());
      continue;
    } else if (msg.has_ack()) {
      in.ack = std::move(*msg.mutable_ack());
    } else if (msg.has_snapshot()) {
      const v1::SnapshotChunk& chunk = msg.snapshot();
      for (const v1::Entry& e : chunk.entries()) {
        FromProto(e, &snapshot.entries.emplace_back());
      }
      if (!chunk.last()) continue;
      snapshot.version = chunk.version();
      snapshot.epoch = chunk.store_epoch();
      snapshot.resend = chunk.resend();
      in = std::move(snapshot);
      snapshot = Incoming(Incoming::kSnapshot);
    } else if (msg.has_expiry_policy()) {
      in.kind = Incoming::kPolicy;
      in.expire_after_seconds = msg.expiry_policy().expire_after_seconds();
    } else if (msg.has_deltas()) {
      in.kind = Incoming::kDeltas;
      in.epoch = msg.deltas().store_epoch();
      for (const v1::Delta& d : msg.deltas().deltas()) {
        FromProto(d, &in.changes.emplace_back());
      }
      if (msg.deltas().has_ack()) {
        then.emplace(Incoming::kAck);
        then->ack = std::move(*msg.mutable_deltas()->mutable_ack());
      }
    } else {
      continue;
    }
    if (!Take(in, idle) || (then.has_value() && !Take(*then, idle))) break;
  }
  absl::MutexLock l(&queue_mu_);
  reading_done_ = true;
}

bool SyncSession::Take(Incoming& in, bool idle) {
  if (idle && (in.kind == Incoming::kDeltas || in.kind == Incoming::kAck) &&
      ApplyHere(in)) {
    return true;
  }
  absl::MutexLock l(&queue_mu_);
  // Bounded: while the applier cannot keep up (a map it cannot write),
  // stop reading; gRPC's flow control holds the coordinator back.
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return queued_changes_ < with_.options->max_queued_changes || cancelled_;
  };
  queue_mu_.Await(absl::Condition(&room));
  if (cancelled_) return false;
  queued_changes_ += in.Size();
  queue_.push_back(std::move(in));
  return true;
}

bool SyncSession::ApplyHere(Incoming& in) {
  {
    absl::MutexLock l(&queue_mu_);
    if (!queue_.empty() || applier_busy_ || cancelled_) return false;
    reader_applying_ = true;
  }
  std::deque<Incoming> one;
  one.push_back(std::move(in));
  bool wake = false;
  // On failure what is left stays in `one`; the applier applies it again
  // and waits for the map (WaitForMap), as if it had failed there.
  ApplyBatch(&one, &wake).IgnoreError();
  if (wake) with_.signal->Wake();
  absl::MutexLock l(&queue_mu_);
  reader_applying_ = false;
  for (Incoming& left : one) {
    queued_changes_ += left.Size();
    queue_.push_back(std::move(left));
  }
  return true;
}

void SyncSession::ApplyLoop() {
  std::deque<Incoming> batch;  // taken from the queue, not yet applied
  size_t batch_changes = 0;    // still counted in queued_changes_
  for (;;) {
    {
      absl::MutexLock l(&queue_mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return (!batch.empty() || !queue_.empty() || reading_done_) &&
               !reader_applying_;
      };
      queue_mu_.Await(absl::Condition(&ready));
      if (batch.empty() && queue_.empty()) break;
      for (Incoming& in : queue_) {
        batch_changes += in.Size();
        batch.push_back(std::move(in));
      }
      queue_.clear();
      applier_busy_ = true;
    }
    bool wake = false;
    absl::Status s = ApplyBatch(&batch, &wake);
    if (batch.empty()) {
      absl::MutexLock l(&queue_mu_);
      queued_changes_ -= batch_changes;
      batch_changes = 0;
      applier_busy_ = false;
    }
    if (wake) with_.signal->Wake();
    // A local failure: the map is unwritable, corrupt or on a full disk.
    // Ending the stream would only fetch the same changes again (the
    // coordinator answers at once, so the backoff never grew: 12
    // reconnects a second). Instead the stream stays up, logins are still
    // sent, and applying resumes at the change that failed.
    if (!s.ok() && !WaitForMap(s)) break;
  }
  reader_done_ = true;
  with_.signal->Wake();
}

absl::Status SyncSession::ApplyBatch(std::deque<Incoming>* batch, bool* wake) {
  while (!batch->empty()) {
    Incoming& in = batch->front();
    if (in.kind == Incoming::kDeltas) {
      // The run of deltas at the front, as one write. On failure they stay
      // queued: applying them again sets the same absolute values.
      std::vector<StateChange> deltas;
      std::string epoch;
      size_t n = 0;
      for (; n < batch->size() && (*batch)[n].kind == Incoming::kDeltas; ++n) {
        const Incoming& d = (*batch)[n];
        deltas.insert(deltas.end(), d.changes.begin(), d.changes.end());
        epoch = d.epoch;
      }
      absl::Status s = ApplyDeltas(&deltas, epoch);
      if (!s.ok()) return s;
      batch->erase(batch->begin(), batch->begin() + n);
      continue;
    }
    absl::Status s;
    if (in.kind == Incoming::kAck) {
      // Taken even if the map write fails (the spool and the materializer
      // have it); the map is rebuilt before anything else is applied.
      s = HandleAck(in.ack);
      // Read after the spool retired the logins (see window_full_).
      if (window_full_) *wake = true;  // logins wait for the room it frees
      batch->pop_front();
      if (!s.ok()) return s;
      continue;
    }
    *wake = true;  // rare; the sending thread looks again
    s = in.kind == Incoming::kPolicy ? ApplyPolicy(in.expire_after_seconds)
                                     : ApplySnapshot(&in);
    if (!s.ok()) return s;
    batch->pop_front();
  }
  return absl::OkStatus();
}

bool SyncSession::WaitForMap(absl::Status failure) {
  // One for all sessions: the cause outlives a reconnect.
  static RateLimitedLog* const trouble = new RateLimitedLog(absl::Minutes(1));
  Backoff backoff(with_.options->map_retry_min, with_.options->map_retry_max);
  for (;;) {
    trouble->Log(LogLevel::kError,
                 MapTroubleMessage("applying the coordinator's changes",
                                   failure, backoff.max()));
    const absl::Duration wait = backoff.Next();
    {
      // The stream ending (or Stop(), which ends it) cuts the wait short.
      absl::MutexLock l(&queue_mu_);
      if (queue_mu_.AwaitWithTimeout(absl::Condition(&reading_done_), wait)) {
        return false;
      }
    }
    failure = with_.materializer->Repair();
    if (failure.ok()) {
      LogInfo("relay map: writable again after ", backoff.failures(),
              " attempt(s): rebuilt it whole; applying the coordinator's "
              "changes from version ",
              with_.applied->applied_version());
      return true;
    }
  }
}

absl::Status SyncSession::ApplyDeltas(std::vector<StateChange>* changes,
                                      const std::string& epoch) {
  if (changes->empty()) return absl::OkStatus();
  absl::Status s = with_.materializer->ApplyDeltas(*changes);
  if (s.ok()) with_.applied->Record(epoch, changes->back().version);
  changes->clear();
  return s;
}

absl::Status SyncSession::ApplySnapshot(Incoming* snapshot) {
  if (snapshot->resend) {
    // The store lost state this agent applied: put everything the map
    // holds back into the spool as logins.
    std::vector<StateEntry> held = with_.materializer->Held();
    LogWarning("coordinator ", target_, " lost state: re-sending ", held.size(),
               " entries");
    absl::Status s = with_.recorder->Resend(held);
    if (!s.ok()) return s;
    snapshot->resend = false;
  }
  if (!snapshot->taken) {
    // The materializer holds the new state even when its map write fails;
    // then the map is repaired (WaitForMap) and this is called again, to
    // record the version only.
    snapshot->taken = true;
    snapshot->size = snapshot->entries.size();
    absl::Status s =
        with_.materializer->ApplySnapshot(std::move(snapshot->entries));
    snapshot->entries = {};
    // A big snapshot passed through here as messages, then entries, then a
    // map batch: some 200 bytes an entry, freed now but kept by malloc in
    // the middle of its heap. The materializer keeps about 12
    // (bench/README.md): give the rest back, or an agent of a million
    // entries stays at 80 MB.
    if (snapshot->size >= kTrimAfterEntries) malloc_trim(0);
    if (!s.ok()) return s;
  }
  LogInfo("applied snapshot of ", snapshot->size, " entries at version ",
          snapshot->version);
  with_.applied->Record(snapshot->epoch, snapshot->version);
  return absl::OkStatus();
}

absl::Status SyncSession::ApplyPolicy(int64_t expire_after_seconds) {
  absl::Status s =
      with_.materializer->SetExpireAfter(absl::Seconds(expire_after_seconds));
  if (!s.ok()) return s;
  if (!with_.applied->SetPolicy(expire_after_seconds)) return absl::OkStatus();
  LogInfo("coordinator ", target_, ": ",
          expire_after_seconds > 0
              ? absl::StrCat(
                    "entries expire after ",
                    absl::FormatDuration(absl::Seconds(expire_after_seconds)),
                    ", here too while no coordinator is reachable")
              : "entries never expire");
  return absl::OkStatus();
}

}  // namespace relaysync
