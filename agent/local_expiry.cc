#include "agent/local_expiry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/map_trouble.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace relaysync {

LocalExpiry::LocalExpiry(Materializer* materializer,
                         const CoordinatorClient* client, const Clock* clock)
    : materializer_(materializer), client_(client), clock_(clock) {}

LocalExpiry::~LocalExpiry() { Stop(); }

void LocalExpiry::Start() {
  thread_ = std::thread([this] {
    NameThisThread("local-expiry");
    Loop();
  });
}

void LocalExpiry::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Duration LocalExpiry::RunOnce(bool connected) {
  absl::StatusOr<size_t> removed = materializer_->Expire();
  if (removed.ok()) {
    // The same timer moves the mtime for writes that were held back at
    // MapOptions::max_mtime_ahead: open sessions see them within a second.
    if (absl::Status s = materializer_->SignalWrites(); !s.ok()) {
      removed = s;
    }
  }
  if (!removed.ok()) {
    // The map stays as it was; a later pass tries again (and rebuilds it).
    failures_.Log(LogLevel::kWarning,
                  MapTroubleMessage("expiry", removed.status(), kMaxRetry));
    return retry_.Next();
  }
  retry_.Reset();
  if (!connected) {
    expired_in_outage_ += *removed;
  } else if (expired_in_outage_ > 0) {
    LogOutage();
  }
  const absl::Duration wait = materializer_->NextExpiry() - clock_->Now();
  return std::clamp(wait, absl::Milliseconds(1), kMaxWait);
}

void LocalExpiry::Loop() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    const absl::Duration wait = RunOnce(client_->connected());
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
  }
  if (expired_in_outage_ > 0) LogOutage();
}

void LocalExpiry::LogOutage() {
  LogInfo("expired ", expired_in_outage_,
          expired_in_outage_ == 1 ? " entry" : " entries",
          " locally while no coordinator was reachable");
  expired_in_outage_ = 0;
}

}  // namespace relaysync
