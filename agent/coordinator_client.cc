// CoordinatorClient: the reconnect loop. One connection attempt, with its
// stream and threads, is a SyncSession (sync_session.cc).
#include "agent/coordinator_client.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <utility>

#include "agent/sync_session.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace relaysync {

CoordinatorClient::CoordinatorClient(const CoordinatorClientOptions& options,
                                     Spool* spool, Materializer* materializer,
                                     LocalRecorder* recorder,
                                     SyncSignal* signal,
                                     AgentStateFile* state_file,
                                     AgentState state)
    : options_(options),
      spool_(spool),
      materializer_(materializer),
      recorder_(recorder),
      signal_(signal),
      applied_(state_file, std::move(state), options.save_interval) {
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
  thread_ = std::thread([this] {
    NameThisThread("sync-send");
    Run();
  });
}

void CoordinatorClient::Stop() {
  signal_->Stop();
  if (thread_.joinable()) thread_.join();
  if (absl::Status s = applied_.Save(); !s.ok()) {
    LogWarning("agent state: ", s.message());
  }
}

void CoordinatorClient::Reconnect() {
  absl::MutexLock l(&session_mu_);
  if (session_ == nullptr) return;
  reconnect_ = true;
  session_->Cancel();
}

void CoordinatorClient::Run() {
  SyncSession::Collaborators with;
  with.options = &options_;
  with.spool = spool_;
  with.materializer = materializer_;
  with.recorder = recorder_;
  with.applied = &applied_;
  with.signal = signal_;
  with.connected = &connected_;
  with.rejected = &rejected_;
  // Jittered exponential backoff so agents do not reconnect in lockstep.
  // It grows only while coordinators fail: a map this agent cannot write
  // no longer ends the stream (see SyncSession::ApplyLoop).
  Backoff backoff(options_.min_backoff, options_.max_backoff);
  for (size_t attempt = 0; !signal_->stopping(); ++attempt) {
    const std::string& target =
        options_.coordinators[attempt % options_.coordinators.size()];
    SyncSession session(with, target);
    const absl::Time attempt_start = absl::Now();
    {
      absl::MutexLock l(&session_mu_);
      session_ = &session;
      reconnect_ = false;  // this session reads the files afresh
    }
    const bool answered = session.Run();
    bool reconnect = false;
    {
      absl::MutexLock l(&session_mu_);
      session_ = nullptr;
      std::swap(reconnect, reconnect_);
    }
    if (reconnect) {
      --attempt;  // the same coordinator, at once
      continue;
    }
    // Over the login rate limit: retrying at once would only be refused
    // again; wait a second at least, and longer each time.
    if (answered && !session.throttled()) backoff.Reset();
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
    signal_->WaitForStop(wait);
  }
}

}  // namespace relaysync
