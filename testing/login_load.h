// Load and bookkeeping for partition and chaos tests: open-loop logins sent
// as `relaysync-agent notify` sends them (NotifyDurably: OK once the agent
// has spooled the login, or it is in the drop directory), and a checker
// that says which confirmed logins are missing from which maps.
#ifndef RELAYSYNC_TESTING_LOGIN_LOAD_H_
#define RELAYSYNC_TESTING_LOGIN_LOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "testing/netns.h"

namespace relaysync::testing {

struct SentLogin {
  std::string address;
  int sender = 0;
  absl::Time sent;  // when NotifyDurably returned
  bool ok = false;  // it returned OK: the login must not be lost
};

class LoginLoad {
 public:
  struct Sender {
    std::string socket;                   // the agent's notify socket
    const NetNamespace* netns = nullptr;  // the agent's namespace, if any
    double rate = 100;                    // logins per second
  };
  // Sender k uses addresses 10.(32k + n/65536).x.y for its n-th login
  // (k < 8, n < 2^21): distinct over all senders.
  explicit LoginLoad(std::vector<Sender> senders);
  ~LoginLoad();  // Stop()

  // One thread per sender, each sending on its own schedule (start + n /
  // rate, not slowed by a slow agent) until Stop() or `limit` has passed.
  void Start(absl::Duration limit);
  void Stop();

  // Everything sent so far, in order per sender.
  std::vector<SentLogin> Sent() const;
  int64_t failed() const { return failed_.load(); }
  // Why the first failure failed, for messages.
  std::string first_error() const;

 private:
  void Run(int k, absl::Time deadline);

  const std::vector<Sender> senders_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> failed_{0};
  mutable std::mutex mu_;
  std::vector<SentLogin> sent_;  // guarded by mu_
  std::string first_error_;      // guarded by mu_
  std::vector<std::thread> threads_;
};

// Which of the expected keys each map lacks. Each Check() only looks again
// at the keys still missing, so it stays cheap as maps converge.
class MapChecker {
 public:
  explicit MapChecker(std::vector<std::string> maps) : maps_(std::move(maps)) {}
  // Every map must come to hold `key`.
  void Expect(const std::string& key);
  // Forget `key` (e.g. it may have expired).
  void Forget(const std::string& key);
  // (key, map) pairs still missing after looking again; a map that cannot
  // be opened counts all its keys as missing.
  size_t Check();
  // Up to `n` of them as "KEY in MAP", for messages.
  std::vector<std::string> Sample(size_t n) const;
  // Whether `key` is in map i, now.
  bool Has(size_t i, const std::string& key) const;

 private:
  const std::vector<std::string> maps_;
  std::map<size_t, std::set<std::string>> missing_;  // map index -> keys
};

// Polls `checker` every 20 ms until nothing is missing or `timeout` has
// passed; the time it took (or timeout + 1 ns if it never converged).
absl::Duration TimeToConverge(MapChecker* checker, absl::Duration timeout);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_LOGIN_LOAD_H_
