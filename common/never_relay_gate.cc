#include "common/never_relay_gate.h"

#include "absl/strings/str_cat.h"

namespace relaysync {

absl::Status NeverRelayGate::Admit(const Address& address,
                                   const std::string& who) {
  absl::Status s = rule_.Check(address);
  if (s.ok()) return s;
  refused_.fetch_add(1, std::memory_order_relaxed);
  refusals_.Log(LogLevel::kWarning,
                absl::StrCat(who, ": refused: ", s.message()));
  return s;
}

}  // namespace relaysync
