#include "common/never_relay_gate.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace relaysync {
namespace {

// Refusals logged each second; the rest are counted into the next line.
constexpr int kLinesPerSecond = 10;

}  // namespace

absl::Status NeverRelayGate::Admit(const Address& address,
                                   const std::string& who) {
  absl::Status s = rule_.Check(address);
  if (s.ok()) return s;
  refused_.fetch_add(1, std::memory_order_relaxed);
  int64_t skipped;
  {
    absl::MutexLock l(&mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      logged_in_window_ = 0;
    }
    if (logged_in_window_ >= kLinesPerSecond) {
      ++unlogged_;
      return s;
    }
    ++logged_in_window_;
    skipped = unlogged_;
    unlogged_ = 0;
  }
  LogWarning(
      who, ": refused: ", s.message(),
      skipped == 0 ? "" : absl::StrCat(" (and ", skipped, " more not logged)"));
  return s;
}

}  // namespace relaysync
