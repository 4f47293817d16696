#include "agent/coordinator_client.h"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/map_trouble.h"
#include "agent/send_window.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "common/version.h"
#include "proto/relaysync/v1/limits.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"
#include "rpc/wire.h"

namespace relaysync {
namespace {

// After a Deferred the agent sends at this fraction of the rate the
// coordinator named (so small timing differences do not exhaust its bucket
// again), or at kDefaultPaceRate if it named none.
constexpr double kPaceFraction = 0.95;
constexpr double kDefaultPaceRate = 100;

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

// One connection attempt: a stream, its reader thread, and the sends.
class CoordinatorClient::Session {
 public:
  Session(CoordinatorClient* client, const std::string& target)
      : client_(client), target_(target) {}

  // Runs until the stream fails or the client stops. Returns true if the
  // coordinator answered at all (resets the backoff).
  bool Run();
  // Logs (rate-limited) that the coordinator cannot be reached, and what
  // happens meanwhile.
  void Unreachable(absl::string_view why);
  // The coordinator ended the stream with RESOURCE_EXHAUSTED (this host's
  // login rate limit): its logins stay spooled for a later attempt.
  bool throttled() const { return throttled_; }
  // The attempt reached no coordinator: it failed UNAVAILABLE or
  // DEADLINE_EXCEEDED before any message came back.
  bool unreachable() const { return unreachable_; }

 private:
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
    v1::Ack ack;                       // kAck
    int64_t expire_after_seconds = 0;  // kPolicy
  };

  void ReadLoop();
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
  // The map write's status (the ack itself is taken either way).
  absl::Status HandleAck(const v1::Ack& ack);
  // Reader thread: the coordinator put these events off (rate limit).
  void HandleDeferred(const v1::Deferred& deferred);
  // Spools what the map holds; returns it, for the map's pending logins.
  absl::StatusOr<std::vector<StateEntry>> Resend();

  CoordinatorClient* const client_;
  const std::string target_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
      stream_;
  std::atomic<bool> reader_done_{false};  // or the applier failed
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Incoming> queue_;  // guarded by queue_mu_
  bool reading_done_ = false;   // guarded by queue_mu_
  std::atomic<bool> heard_back_{false};
  SendWindow window_;  // sending thread only
  std::mutex inflight_mu_;
  std::unordered_map<std::string, std::pair<std::string, int64_t>> inflight_;
  uint64_t reported_version_ = 0;
  absl::Time last_report_ = absl::InfinitePast();
  bool throttled_ = false;
  bool unreachable_ = false;
  // Deferred events to send again (the reader hands them to the sending
  // thread, which owns window_), and when sending may resume.
  std::mutex deferred_mu_;
  std::vector<std::string> deferred_ids_;        // guarded by deferred_mu_
  absl::Time resume_at_ = absl::InfinitePast();  // guarded by deferred_mu_
  double pace_rate_ = 0;                         // guarded by deferred_mu_
  // Sending thread only: logins it may send now while paced, and when
  // that allowance was last topped up.
  double allowance_ = 0;
  absl::Time allowance_at_ = absl::InfinitePast();
};

bool CoordinatorClient::Session::Run() {
  auto channel = MakeChannel(target_, client_->options_.keepalive,
                             client_->options_.tls, /*own_connection=*/true);
  // A coordinator that refuses connections is retried inside this wait by
  // gRPC (backoff from 100 ms), so its return is noticed at once; a TLS
  // failure ends in TRANSIENT_FAILURE and the stream below reports it.
  const auto connect_by =
      std::chrono::system_clock::now() +
      absl::ToChronoMilliseconds(client_->options_.connect_timeout);
  if (!channel->WaitForConnected(connect_by) &&
      channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    unreachable_ = true;
    Unreachable(
        absl::StrCat("no connection within ",
                     absl::FormatDuration(client_->options_.connect_timeout)));
    return false;
  }
  auto stub = v1::RelaySync::NewStub(channel);
  stream_ = stub->Sync(&context_);
  v1::AgentMessage hello;
  {
    std::lock_guard<std::mutex> l(client_->mu_);
    hello.mutable_hello()->set_host_id(client_->options_.host_id);
    hello.mutable_hello()->set_applied_version(client_->state_.applied_version);
    hello.mutable_hello()->set_store_epoch(client_->state_.store_epoch);
    hello.mutable_hello()->set_agent_version(
        absl::StrCat("relaysync-agent ", RelaysyncVersion()));
    hello.mutable_hello()->set_accepts_deferred(true);
  }
  if (!stream_->Write(hello)) {
    grpc::Status s = stream_->Finish();
    unreachable_ = IsUnreachable(s);
    Unreachable(s.error_message());
    return false;
  }
  std::thread reader([this] { ReadLoop(); });
  std::thread applier([this] { ApplyLoop(); });
  bool ok = true;
  while (ok && !reader_done_) {
    ok = SendPending();
    std::unique_lock<std::mutex> l(client_->mu_);
    const absl::Time now = absl::Now();
    if (ok && client_->state_.applied_version != reported_version_ &&
        heard_back_ &&
        now - last_report_ >= client_->options_.report_interval) {
      last_report_ = now;
      v1::AgentMessage applied;
      applied.mutable_applied()->set_version(client_->state_.applied_version);
      reported_version_ = client_->state_.applied_version;
      l.unlock();
      ok = stream_->Write(applied);
      l.lock();
    }
    if (client_->stopping_) break;
    // Every 100 ms at most, when a deferral ends, and often while paced so
    // that the trickle is steady.
    absl::Duration wait = absl::Milliseconds(100);
    {
      std::lock_guard<std::mutex> d(deferred_mu_);
      if (pace_rate_ > 0) wait = absl::Milliseconds(20);
      if (resume_at_ > now) wait = std::min(wait, resume_at_ - now);
    }
    client_->cv_.wait_for(l, absl::ToChronoMicroseconds(wait), [this] {
      return client_->wake_ || client_->stopping_ || reader_done_;
    });
    client_->wake_ = false;
    l.unlock();
    client_->SaveState(false);
  }
  context_.TryCancel();
  reader.join();
  applier.join();
  grpc::Status s = stream_->Finish();
  client_->connected_ = false;
  throttled_ = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  unreachable_ = !heard_back_ && IsUnreachable(s);
  if (!s.ok() && !client_->stopping_) {
    Unreachable(absl::StrCat("stream ended: ", s.error_message()));
  }
  return heard_back_;
}

void CoordinatorClient::Session::Unreachable(absl::string_view why) {
  // One for all sessions: during an outage every attempt fails alike.
  static RateLimitedLog* const log = new RateLimitedLog(absl::Seconds(30));
  log->Log(LogLevel::kWarning,
           absl::StrCat(
               "coordinator ", target_, ": ", why,
               "; logins stay spooled and relay here, and the agent "
               "reconnects with backoff, at least every ",
               absl::FormatDuration(client_->options_.unreachable_max_backoff),
               " while no coordinator answers"));
}

bool CoordinatorClient::Session::SendPending() {
  double rate;
  const absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> l(deferred_mu_);
    if (!deferred_ids_.empty()) {
      std::lock_guard<std::mutex> i(inflight_mu_);
      for (const std::string& id : deferred_ids_) inflight_.erase(id);
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
  std::vector<SpooledLogin> pending =
      client_->spool_->Pending(4 * kMaxLoginsPerBatch);
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
    {
      std::lock_guard<std::mutex> l(inflight_mu_);
      inflight_[p.event_id] = {p.login.address, p.login.login_time};
    }
    if (static_cast<size_t>(msg.logins().events_size()) == kMaxLoginsPerBatch) {
      if (!stream_->Write(msg)) return false;
      msg.Clear();
    }
  }
  if (rate > 0) {
    allowance_ -= static_cast<double>(sent);
    if (caught_up && pending.size() < 4 * kMaxLoginsPerBatch) {
      // Nothing left waiting: back to sending at once.
      std::lock_guard<std::mutex> l(deferred_mu_);
      if (deferred_ids_.empty()) pace_rate_ = 0;
    }
  }
  if (msg.has_logins() && !stream_->Write(msg)) return false;
  return true;
}

absl::StatusOr<std::vector<StateEntry>> CoordinatorClient::Session::Resend() {
  // The store lost state this agent applied: put everything the map holds
  // back into the spool as logins. They stay in the map as pending local
  // logins, so the coming snapshot does not remove them meanwhile.
  std::vector<StateEntry> held = client_->materializer_->Held();
  LogWarning("coordinator ", target_, " lost state: re-sending ", held.size(),
             " entries");
  std::vector<LocalLogin> logins;
  logins.reserve(held.size());
  for (const StateEntry& e : held) {
    LocalLogin login;
    login.address = e.address;
    login.login_time = e.ticks;
    login.source = "resync";
    logins.push_back(std::move(login));
  }
  absl::StatusOr<std::vector<SpooledLogin>> spooled =
      client_->spool_->Append(logins);
  if (!spooled.ok()) return spooled.status();
  return held;
}

absl::Status CoordinatorClient::Session::HandleAck(const v1::Ack& ack) {
  if (ack.rejected_size() > 0) {
    const int64_t total = client_->rejected_.fetch_add(
                              ack.rejected_size(), std::memory_order_relaxed) +
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
  std::vector<std::string> ids(ack.event_ids().begin(), ack.event_ids().end());
  absl::Status s = client_->spool_->Ack(ids);
  if (!s.ok()) LogWarning("spool: ", s.message());
  std::vector<std::pair<std::string, int64_t>> logins;
  {
    std::lock_guard<std::mutex> l(inflight_mu_);
    for (const std::string& id : ids) {
      auto it = inflight_.find(id);
      if (it == inflight_.end()) continue;
      logins.push_back(it->second);
      inflight_.erase(it);
    }
  }
  return client_->materializer_->Acknowledged(logins);
}

void CoordinatorClient::Session::HandleDeferred(const v1::Deferred& deferred) {
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
    std::lock_guard<std::mutex> l(deferred_mu_);
    deferred_ids_.insert(deferred_ids_.end(), deferred.event_ids().begin(),
                         deferred.event_ids().end());
    resume_at_ = std::max(resume_at_, absl::Now() + wait);
    pace_rate_ = deferred.logins_per_second() > 0 ? deferred.logins_per_second()
                                                  : kDefaultPaceRate;
  }
  client_->Wake();
}

void CoordinatorClient::Session::ReadLoop() {
  v1::CoordinatorMessage msg;
  Incoming snapshot(Incoming::kSnapshot);
  while (stream_->Read(&msg)) {
    if (!heard_back_) {
      heard_back_ = true;
      client_->connected_ = true;
      LogInfo("connected to coordinator ", target_);
    }
    Incoming in(Incoming::kAck);
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
    } else {
      continue;
    }
    std::lock_guard<std::mutex> l(queue_mu_);
    queue_.push_back(std::move(in));
    queue_cv_.notify_all();
  }
  std::lock_guard<std::mutex> l(queue_mu_);
  reading_done_ = true;
  queue_cv_.notify_all();
}

void CoordinatorClient::Session::ApplyLoop() {
  std::deque<Incoming> batch;  // taken from the queue, not yet applied
  for (;;) {
    {
      std::unique_lock<std::mutex> l(queue_mu_);
      queue_cv_.wait(l, [&] {
        return !batch.empty() || !queue_.empty() || reading_done_;
      });
      if (batch.empty() && queue_.empty()) break;
      for (Incoming& in : queue_) batch.push_back(std::move(in));
      queue_.clear();
    }
    bool wake = false;
    absl::Status s = ApplyBatch(&batch, &wake);
    if (wake) client_->Wake();
    // A local failure: the map is unwritable, corrupt or on a full disk.
    // Ending the stream would only fetch the same changes again (the
    // coordinator answers at once, so the backoff never grew: 12
    // reconnects a second). Instead the stream stays up, logins are still
    // sent, and applying resumes at the change that failed.
    if (!s.ok() && !WaitForMap(s)) break;
  }
  reader_done_ = true;
  client_->Wake();
}

absl::Status CoordinatorClient::Session::ApplyBatch(std::deque<Incoming>* batch,
                                                    bool* wake) {
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
    *wake = true;  // acks free the send window
    absl::Status s;
    if (in.kind == Incoming::kAck) {
      // Taken even if the map write fails (the spool and the materializer
      // have it); the map is rebuilt before anything else is applied.
      s = HandleAck(in.ack);
      batch->pop_front();
      if (!s.ok()) return s;
      continue;
    }
    s = in.kind == Incoming::kPolicy ? ApplyPolicy(in.expire_after_seconds)
                                     : ApplySnapshot(&in);
    if (!s.ok()) return s;
    batch->pop_front();
  }
  return absl::OkStatus();
}

bool CoordinatorClient::Session::WaitForMap(absl::Status failure) {
  // One for all sessions: the cause outlives a reconnect.
  static RateLimitedLog* const trouble = new RateLimitedLog(absl::Minutes(1));
  Backoff backoff(client_->options_.map_retry_min,
                  client_->options_.map_retry_max);
  for (;;) {
    trouble->Log(LogLevel::kError,
                 MapTroubleMessage("applying the coordinator's changes",
                                   failure, backoff.max()));
    const absl::Duration wait = backoff.Next();
    {
      // The stream ending (or Stop(), which ends it) cuts the wait short.
      std::unique_lock<std::mutex> l(queue_mu_);
      if (queue_cv_.wait_for(l, absl::ToChronoMicroseconds(wait),
                             [this] { return reading_done_; })) {
        return false;
      }
    }
    failure = client_->materializer_->Repair();
    if (failure.ok()) {
      LogInfo("relay map: writable again after ", backoff.failures(),
              " attempt(s): rebuilt it whole; applying the coordinator's "
              "changes from version ",
              client_->applied_version());
      return true;
    }
  }
}

absl::Status CoordinatorClient::Session::ApplyDeltas(
    std::vector<StateChange>* changes, const std::string& epoch) {
  if (changes->empty()) return absl::OkStatus();
  absl::Status s = client_->materializer_->ApplyDeltas(*changes);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(client_->mu_);
    client_->state_.store_epoch = epoch;
    client_->state_.applied_version = changes->back().version;
    client_->state_dirty_ = true;
  }
  changes->clear();
  return s;
}

absl::Status CoordinatorClient::Session::ApplySnapshot(Incoming* snapshot) {
  if (snapshot->resend) {
    absl::StatusOr<std::vector<StateEntry>> held = Resend();
    if (!held.ok()) return held.status();
    snapshot->resend = false;
    absl::Status s = client_->materializer_->AddLocal(*held);
    if (!s.ok()) return s;
  }
  absl::Status s = client_->materializer_->ApplySnapshot(snapshot->entries);
  if (!s.ok()) return s;
  LogInfo("applied snapshot of ", snapshot->entries.size(),
          " entries at version ", snapshot->version);
  std::lock_guard<std::mutex> l(client_->mu_);
  client_->state_.store_epoch = snapshot->epoch;
  client_->state_.applied_version = snapshot->version;
  client_->state_dirty_ = true;
  return absl::OkStatus();
}

absl::Status CoordinatorClient::Session::ApplyPolicy(
    int64_t expire_after_seconds) {
  absl::Status s = client_->materializer_->SetExpireAfter(
      absl::Seconds(expire_after_seconds));
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(client_->mu_);
  if (client_->state_.expire_after_seconds == expire_after_seconds) {
    return absl::OkStatus();
  }
  LogInfo("coordinator ", target_, ": ",
          expire_after_seconds > 0
              ? absl::StrCat(
                    "entries expire after ",
                    absl::FormatDuration(absl::Seconds(expire_after_seconds)),
                    ", here too while no coordinator is reachable")
              : "entries never expire");
  client_->state_.expire_after_seconds = expire_after_seconds;
  client_->state_dirty_ = true;
  return absl::OkStatus();
}

CoordinatorClient::CoordinatorClient(const CoordinatorClientOptions& options,
                                     Spool* spool, Materializer* materializer,
                                     AgentStateFile* state_file,
                                     AgentState state)
    : options_(options),
      spool_(spool),
      materializer_(materializer),
      state_file_(state_file),
      state_(std::move(state)) {
  // Keeps gRPC initialized between sessions. Otherwise the end of a
  // session drops its last object, and grpc_shutdown() tears the library
  // down on this thread: after a partition that blocked the next attempt
  // for 8 s (waiting on the dead connection's threads).
  grpc_init();
}

CoordinatorClient::~CoordinatorClient() {
  Stop();
  grpc_shutdown();
}

void CoordinatorClient::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CoordinatorClient::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  SaveState(true);
}

void CoordinatorClient::Wake() {
  std::lock_guard<std::mutex> l(mu_);
  wake_ = true;
  cv_.notify_all();
}

uint64_t CoordinatorClient::applied_version() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_.applied_version;
}

void CoordinatorClient::SaveState(bool force) {
  AgentState copy;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!state_dirty_) return;
    const absl::Time now = absl::Now();
    if (!force && now - last_save_ < options_.save_interval) return;
    last_save_ = now;
    state_dirty_ = false;
    copy = state_;
  }
  absl::Status s = state_file_->Save(copy);
  if (!s.ok()) LogWarning("agent state: ", s.message());
}

void CoordinatorClient::Run() {
  // Jittered exponential backoff so agents do not reconnect in lockstep.
  // It grows only while coordinators fail: a map this agent cannot write
  // no longer ends the stream (see ApplyLoop).
  Backoff backoff(options_.min_backoff, options_.max_backoff);
  for (size_t attempt = 0;; ++attempt) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
    }
    const std::string& target =
        options_.coordinators[attempt % options_.coordinators.size()];
    Session session(this, target);
    const absl::Time attempt_start = absl::Now();
    // Over the login rate limit: retrying at once would only be refused
    // again; wait a second at least, and longer each time.
    if (session.Run() && !session.throttled()) backoff.Reset();
    absl::Duration wait = backoff.Next();
    if (session.throttled()) {
      wait = std::max(wait, std::min(absl::Seconds(1), options_.max_backoff));
    } else if (session.unreachable()) {
      // A partition or an outage: keep probing (a failed connect costs the
      // coordinator nothing) so that the heal is noticed within about
      // unreachable_max_backoff; the jitter still spreads the agents out.
      // Time spent connecting counts: attempts start at most that often.
      wait = std::max(absl::ZeroDuration(),
                      std::min(wait, options_.unreachable_max_backoff) -
                          (absl::Now() - attempt_start));
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, absl::ToChronoMilliseconds(wait),
                 [this] { return stopping_; });
  }
}

}  // namespace relaysync
