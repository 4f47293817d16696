// NeverRelayGate: the never-relay rule (common/never_relay.h) at a door
// where addresses arrive: the agent's local logins, the coordinator's Sync
// streams and Admin.Add. Decides, counts every refusal and logs it, at
// most ten lines a second so that a flood of them cannot flood the log.
#ifndef RELAYSYNC_COMMON_NEVER_RELAY_GATE_H_
#define RELAYSYNC_COMMON_NEVER_RELAY_GATE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/address.h"
#include "common/never_relay.h"
#include "common/rate_limited_log.h"

namespace relaysync {

class NeverRelayGate {
 public:
  explicit NeverRelayGate(NeverRelay rule) : rule_(std::move(rule)) {}

  // OK if `address` may be granted. Otherwise counts and logs the refusal
  // naming `who` ("agent mx1", "admin add", "notify:script-login") and returns
  // InvalidArgument naming the address and its range. Thread-safe.
  absl::Status Admit(const Address& address, const std::string& who);

  // Refusals since start.
  int64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  const NeverRelay& rule() const { return rule_; }

 private:
  const NeverRelay rule_;
  std::atomic<int64_t> refused_{0};
  RateLimitedLog refusals_{absl::Seconds(1), /*lines=*/10};
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_NEVER_RELAY_GATE_H_
