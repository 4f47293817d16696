#include "coordinator/user_address_limit.h"

#include <algorithm>

namespace relaysync {

bool UserAddressLimit::Admit(absl::string_view user, const std::string& address,
                             int64_t now) {
  if (options_.max_addresses <= 0 || user.empty()) return true;
  const int64_t since = now - absl::ToInt64Seconds(options_.window);
  auto stale = [since](const Seen& s) { return s.at <= since; };
  absl::MutexLock l(&mu_);
  if (++added_since_sweep_ >= kSweepEvery) {
    added_since_sweep_ = 0;
    for (auto it = users_.begin(); it != users_.end();) {
      const bool idle =
          std::all_of(it->second.begin(), it->second.end(), stale);
      it = idle ? users_.erase(it) : std::next(it);
    }
  }
  std::vector<Seen>& seen = users_[std::string(user)];
  seen.erase(std::remove_if(seen.begin(), seen.end(), stale), seen.end());
  for (Seen& s : seen) {
    if (s.address == address) {
      s.at = std::max(s.at, now);
      return true;
    }
  }
  if (static_cast<int>(seen.size()) >= options_.max_addresses) return false;
  seen.push_back(Seen{address, now});
  return true;
}

}  // namespace relaysync
