#include "coordinator/sync_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"

namespace relaysync {
namespace {

// Store reads for streams (hellos, snapshots, old deltas) run here. Two,
// so one large snapshot does not hold up every other stream.
constexpr int kWorkers = 2;
// Upper bound on logins merged in one store transaction.
constexpr size_t kMaxGroupLogins = 20000;
// How often every stream is pumped without a publish.
constexpr auto kTick = std::chrono::milliseconds(200);

}  // namespace

SyncService::SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
                         AgentRegistry* registry, const Clock* clock,
                         Authorizer* authorizer, RateLimiter* limiter,
                         UserAddressLimit* user_limit, int push_budget,
                         NeverRelayGate* gate, const SyncLimits& limits)
    : writer_(writer),
      limits_(limits),
      pacer_(push_budget),
      snapshots_(limits.max_snapshots) {
  deps_.store = store;
  deps_.gate = gate;
  deps_.hub = hub;
  deps_.registry = registry;
  deps_.clock = clock;
  deps_.expire_after = writer->options().expire_after;
  deps_.authorizer = authorizer;
  deps_.limiter = limiter;
  deps_.user_limit = user_limit;
  deps_.post = [this](std::function<void()> task) { Post(std::move(task)); };
  deps_.merge = [this](std::vector<Login> logins,
                       std::function<void(absl::StatusOr<uint64_t>)> done) {
    Merge(std::move(logins), std::move(done));
  };
  deps_.forget = [this](SyncStream* stream) { Forget(stream); };
  deps_.push_interval = [this] {
    return absl::ToChronoMicroseconds(pacer_.Interval());
  };
  deps_.pace = [this](SyncStream* stream) {
    stream->Ref();  // until the beat
    pacer_.WaitForBeat([stream] {
      stream->Paced();
      stream->Unref();
    });
  };
  deps_.max_unsent = limits.max_unsent;
  deps_.stall_timeout = limits.stall_timeout;
  deps_.snapshots = &snapshots_;
  // A store that takes concurrent merges (Redis): while one batch's script
  // runs, the next is sent and the last one's reply parsed.
  const int mergers = store->concurrent_merges();
  for (int i = 0; i < mergers; ++i) {
    mergers_.emplace_back([this, i] { MergeLoop(/*ticks=*/i == 0); });
  }
  for (int i = 0; i < kWorkers; ++i) {
    workers_.emplace_back([this] { WorkLoop(); });
  }
}

SyncService::~SyncService() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  merge_cv_.notify_all();
  work_cv_.notify_all();
  pacer_.Stop();
  for (std::thread& t : mergers_) t.join();
  for (std::thread& t : workers_) t.join();
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>*
SyncService::Sync(grpc::CallbackServerContext* context) {
  Caller caller;
  grpc::Status allowed =
      deps_.authorizer->Check(*context, Role::kAgent, "sync", &caller);
  auto* stream = new SyncStream(deps_, context, std::move(caller));
  bool refuse = !allowed.ok();
  if (refuse) {
    stream->End(std::move(allowed));
    return stream;
  }
  const std::string& identity = stream->caller().identity;
  const int max_streams = deps_.authorizer->max_streams();
  bool too_many = false;
  bool full = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    refuse = shutting_down_;
    full = !refuse && streams_.size() >= limits_.max_streams;
    if (!refuse && !full && !identity.empty()) {
      auto open = streams_by_identity_.find(identity);
      too_many =
          open != streams_by_identity_.end() && open->second >= max_streams;
    }
    if (!refuse && !full && !too_many) {
      streams_.insert(stream);
      pacer_.SetStreams(streams_.size());
      if (!identity.empty()) ++streams_by_identity_[identity];
    }
  }
  if (refuse) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "coordinator shutting down"));
  } else if (full) {
    // Not audited: a flood would flood the audit log; the log line is
    // rate-limited.
    static RateLimitedLog* const refusals =
        new RateLimitedLog(absl::Seconds(10));
    const std::string why = absl::StrCat(
        "sync: ", limits_.max_streams, " streams open already (--max-streams)");
    refusals->Log(
        LogLevel::kWarning,
        absl::StrCat("refused a stream from ", context->peer(), " (",
                     identity.empty() ? "no identity" : identity, "): ", why));
    stream->End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
  } else if (too_many) {
    const std::string why = absl::StrCat("sync: ", identity, " has ",
                                         max_streams, " streams open already");
    deps_.authorizer->Refused(stream->caller(), "sync", why);
    stream->End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
  }
  return stream;
}

void SyncService::Shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    shutting_down_ = true;
  }
  for (SyncStream* stream : RefStreams()) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "coordinator shutting down"));
    stream->Unref();
  }
}

std::vector<SyncStream*> SyncService::RefStreams() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SyncStream*> out(streams_.begin(), streams_.end());
  // A stream in the set has not passed Forget(), so it is alive.
  for (SyncStream* stream : out) stream->Ref();
  return out;
}

void SyncService::Forget(SyncStream* stream) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string& identity = stream->caller().identity;
  if (streams_.erase(stream) == 1 && !identity.empty()) {
    auto it = streams_by_identity_.find(identity);
    if (it != streams_by_identity_.end() && --it->second <= 0) {
      streams_by_identity_.erase(it);
    }
  }
  pacer_.SetStreams(streams_.size());
}

void SyncService::Merge(std::vector<Login> logins,
                        std::function<void(absl::StatusOr<uint64_t>)> done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    merges_.push_back(MergeJob{std::move(logins), std::move(done)});
  }
  merge_cv_.notify_one();
}

void SyncService::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> l(mu_);
    work_.push_back(std::move(task));
  }
  work_cv_.notify_one();
}

void SyncService::MergeLoop(bool ticks) {
  auto next_tick = std::chrono::steady_clock::now() + kTick;
  for (;;) {
    std::vector<MergeJob> jobs;
    {
      std::unique_lock<std::mutex> l(mu_);
      merge_cv_.wait_until(l, next_tick,
                           [this] { return stopping_ || !merges_.empty(); });
      if (merges_.empty() && stopping_) return;
      size_t logins = 0;
      while (!merges_.empty() &&
             (jobs.empty() ||
              logins + merges_.front().logins.size() <= kMaxGroupLogins)) {
        logins += merges_.front().logins.size();
        jobs.push_back(std::move(merges_.front()));
        merges_.pop_front();
      }
    }
    if (!jobs.empty()) {
      std::vector<Login> group;
      for (MergeJob& job : jobs) {
        group.insert(group.end(), job.logins.begin(), job.logins.end());
      }
      absl::StatusOr<uint64_t> merged = writer_->MergeLogins(std::move(group));
      for (MergeJob& job : jobs) job.done(merged);
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + kTick;
      if (!ticks) continue;
      const auto now = std::chrono::steady_clock::now();
      for (SyncStream* stream : RefStreams()) {
        if (!stream->CheckStalled(now)) stream->Pump();
        stream->Unref();
      }
    }
  }
}

void SyncService::WorkLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.wait(l, [this] { return stopping_ || !work_.empty(); });
      if (work_.empty()) return;
      task = std::move(work_.front());
      work_.pop_front();
    }
    task();
  }
}

}  // namespace relaysync
