#include "coordinator/sync_service.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "common/thread_name.h"
#include "rpc/grpc_status.h"

namespace relaysync {
namespace {

// Store reads for streams (hellos, snapshots, old deltas) run here. Two,
// so one large snapshot does not hold up every other stream.
constexpr int kWorkers = 2;
// How often every stream is looked at without a publish.
constexpr absl::Duration kTick = absl::Milliseconds(200);

}  // namespace

SyncService::SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
                         AgentRegistry* registry, const Clock* clock,
                         Authorizer* authorizer, RateLimiter* limiter,
                         UserAddressLimit* user_limit, int push_budget,
                         NeverRelayGate* gate, const SyncLimits& limits,
                         const CoordinatorMetrics* metrics)
    : pacer_(push_budget),
      snapshots_(limits.max_snapshots),
      workers_(kWorkers),
      // A store that takes concurrent merges (Redis): while one batch's
      // script runs, the next is sent and the last one's reply parsed.
      commits_(writer, store->concurrent_merges(), metrics),
      streams_(limits.max_streams, &pacer_) {
  shared_.store = store;
  shared_.hub = hub;
  shared_.registry = registry;
  shared_.clock = clock;
  shared_.authorizer = authorizer;
  shared_.gate = gate;
  shared_.limiter = limiter;
  shared_.user_limit = user_limit;
  shared_.workers = &workers_;
  shared_.commits = &commits_;
  shared_.streams = &streams_;
  shared_.pacer = &pacer_;
  shared_.snapshots = &snapshots_;
  shared_.expire_after = writer->options().expire_after;
  shared_.max_unsent = limits.max_unsent;
  shared_.stall_timeout = limits.stall_timeout;
  if (metrics != nullptr) shared_.metrics = *metrics;
  ticker_ = std::thread([this] {
    NameThisThread("stream-ticker");
    TickLoop();
  });
}

SyncService::~SyncService() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  ticker_.join();
  // In this order: a beat or a merge may still pump a stream, which may
  // post a store read.
  pacer_.Stop();
  commits_.Stop();
  workers_.Stop();
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>*
SyncService::Sync(grpc::CallbackServerContext* context) {
  Caller caller;
  grpc::Status allowed =
      shared_.authorizer->Check(*context, Role::kAgent, "sync", &caller);
  auto* stream = new SyncStream(shared_, context, std::move(caller));
  if (!allowed.ok()) {
    stream->End(std::move(allowed));
    return stream;
  }
  const std::string& identity = stream->caller().identity;
  const int max_streams = shared_.authorizer->max_streams();
  switch (streams_.Add(stream, identity, max_streams)) {
    case OpenStreams::Admission::kAdmitted:
      break;
    case OpenStreams::Admission::kClosed:
      stream->End(
          ToGrpcStatus(absl::UnavailableError("coordinator shutting down")));
      break;
    case OpenStreams::Admission::kFull: {
      // Not audited: a flood would flood the audit log; the log line is
      // rate-limited.
      static RateLimitedLog* const refusals =
          new RateLimitedLog(absl::Seconds(10));
      const std::string why =
          absl::StrCat("sync: ", streams_.max_streams(),
                       " streams open already (--max-streams)");
      refusals->Log(
          LogLevel::kWarning,
          absl::StrCat("refused a stream from ", context->peer(), " (",
                       identity.empty() ? "no identity" : identity,
                       "): ", why));
      shared_.authorizer->refusals().Count(Refusal::kMaxStreams);
      stream->End(ToGrpcStatus(absl::ResourceExhaustedError(why)));
      break;
    }
    case OpenStreams::Admission::kTooManyForIdentity: {
      const std::string why = absl::StrCat(
          "sync: ", identity, " has ", max_streams, " streams open already");
      shared_.authorizer->refusals().Count(Refusal::kIdentityStreams);
      shared_.authorizer->Refused(stream->caller(), "sync", why);
      stream->End(ToGrpcStatus(absl::ResourceExhaustedError(why)));
      break;
    }
  }
  return stream;
}

void SyncService::Shutdown() {
  for (SyncStream* stream : streams_.Close()) {
    stream->End(
        ToGrpcStatus(absl::UnavailableError("coordinator shutting down")));
    stream->Unref();
  }
}

void SyncService::TickLoop() {
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), kTick)) return;
    }
    const auto now = std::chrono::steady_clock::now();
    for (SyncStream* stream : streams_.Ref()) {
      if (!stream->CheckStalled(now)) stream->Pump();
      stream->Unref();
    }
  }
}

}  // namespace relaysync
