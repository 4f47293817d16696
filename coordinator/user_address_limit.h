// Per-user limit on the distinct client addresses one user may have granted
// within a window (e.g. 20 in 10 minutes): a mail password stolen by a
// credential-stuffing botnet then opens the cluster to that many addresses,
// not to the whole botnet. Logins beyond it are acknowledged but not
// granted (the agent's own map drops them on the acknowledgement). Each
// coordinator counts what it merges: with several coordinators on Redis a
// user's logins spread over them may get up to that many each. Logins
// without a user name are not limited. Thread-safe.
#ifndef RELAYSYNC_COORDINATOR_USER_ADDRESS_LIMIT_H_
#define RELAYSYNC_COORDINATOR_USER_ADDRESS_LIMIT_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

struct UserAddressLimitOptions {
  int max_addresses = 20;  // 0: no limit
  absl::Duration window = absl::Minutes(10);
};

class UserAddressLimit {
 public:
  explicit UserAddressLimit(UserAddressLimitOptions options)
      : options_(options) {}

  // True when `user` may be granted `address` at `now` (seconds since the
  // epoch): it is one of the user's addresses of the last window, or the
  // user has fewer than max_addresses of them. Records it when true.
  bool Admit(absl::string_view user, const std::string& address, int64_t now);
  const UserAddressLimitOptions& options() const { return options_; }

 private:
  struct Seen {
    std::string address;
    int64_t at;
  };
  // Users recorded between sweeps that forget users idle for a window.
  static constexpr size_t kSweepEvery = 4096;

  const UserAddressLimitOptions options_;
  absl::Mutex mu_;
  std::unordered_map<std::string, std::vector<Seen>> users_
      ABSL_GUARDED_BY(mu_);
  size_t added_since_sweep_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_USER_ADDRESS_LIMIT_H_
