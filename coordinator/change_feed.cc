#include "coordinator/change_feed.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/rate_limited_log.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

// Changes read from the store per round: under load, whole group commits
// are published at a time instead of slices of them.
constexpr size_t kFollowBatch = 10000;
// The longest wait inside the store, and so how long Stop() may take (a
// coordinator's shutdown waits for it). Each wait that ends without a
// change costs a round trip to the store: nothing to speak of.
constexpr absl::Duration kWait = absl::Milliseconds(100);

}  // namespace

ChangeFeed::ChangeFeed(Store* store, ChangeHub* hub)
    : store_(store), hub_(hub) {}

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Start() {
  absl::MutexLock l(&mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread("change-feed");
    Loop();
  });
}

void ChangeFeed::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  thread_.join();
}

absl::Status ChangeFeed::CatchUp() {
  absl::StatusOr<uint64_t> version = store_->Version();
  if (!version.ok()) return version.status();
  return Step(*version);
}

void ChangeFeed::Loop() {
  // Store down (Redis failing over, say): retry on a jittered backoff
  // (every coordinator of the cluster saw it fail at once), log now and
  // then. Attempts start at most a second apart, counting the time the
  // failed one took (a connect into a partition lasts the whole Redis
  // timeout): one a second per coordinator is nothing for Redis, and after
  // a partition heals this is what brings the agents the other
  // coordinators' changes.
  Backoff backoff(absl::Milliseconds(200), absl::Seconds(1));
  RateLimitedLog warnings(absl::Seconds(30));
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    const absl::Time attempt_start = absl::Now();
    absl::StatusOr<uint64_t> version =
        store_->WaitForChange(hub_->latest(), kWait);
    absl::Status s = version.ok() ? Step(*version) : version.status();
    if (s.ok()) {
      backoff.Reset();
      continue;
    }
    warnings.Log(LogLevel::kWarning,
                 absl::StrCat("following the store: ", s.message(),
                              ": check that the store (Redis) is up and "
                              "reachable; agents of this coordinator miss "
                              "other coordinators' changes until it is, "
                              "retrying at least every ",
                              absl::FormatDuration(backoff.max())));
    const absl::Duration wait = std::max(
        absl::ZeroDuration(), backoff.Next() - (absl::Now() - attempt_start));
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping), wait);
  }
}

absl::Status ChangeFeed::Step(uint64_t version) {
  const std::string epoch = store_->Epoch();
  if (epoch != hub_->epoch()) {
    LogWarning("store epoch changed to ", epoch, " at version ", version,
               ": agents get a snapshot");
    hub_->Reset(epoch, version);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StateChange>> changes =
      store_->ChangesSince(hub_->latest(), kFollowBatch);
  if (!changes.ok() &&
      changes.status().code() == absl::StatusCode::kOutOfRange) {
    // Fell behind the retained log (or the log went backwards): streams
    // that need older changes fall back to snapshots.
    hub_->Reset(epoch, version);
    return absl::OkStatus();
  }
  if (!changes.ok()) return changes.status();
  hub_->Publish(*changes);
  return absl::OkStatus();
}

}  // namespace relaysync
