// Network namespaces and veth pairs that a test makes for itself, so that a
// partition can be cut and healed between real processes without touching
// the machine's own interfaces: a namespace "rs-test-<pid>-<n>", and veth
// pairs with addresses from 10.255.0.0/16 that only its two ends know.
// Needs root (CI runs as root); creation failures are test failures, never
// skips. Everything is deleted by the destructors, and namespaces left by
// a test that was killed are swept by the next one.
#ifndef RELAYSYNC_TESTING_NETNS_H_
#define RELAYSYNC_TESTING_NETNS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace relaysync::testing {

class NetNamespace {
 public:
  // A new namespace with its loopback up; nullptr (and the reason in
  // `error`) if it cannot be made.
  static std::unique_ptr<NetNamespace> Create(std::string* error);
  ~NetNamespace();  // deletes it (and every veth end inside it)
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  const std::string& name() const { return name_; }
  // `argv` run inside it: {"ip", "netns", "exec", NAME, argv...} (ip execs
  // the program, so the pid is the program's).
  std::vector<std::string> Wrap(const std::vector<std::string>& argv) const;
  // Moves the calling thread into it (setns): sockets the thread makes from
  // now on live there. Only for a thread that the test owns and ends.
  absl::Status EnterOnThisThread() const;

 private:
  explicit NetNamespace(std::string name) : name_(std::move(name)) {}
  const std::string name_;
};

// A veth pair between `a` (nullptr: the test's own namespace) and `b`, each
// end with an address of one /30. Partition(kNear) takes b's end down: b's
// programs find no route ("Network is unreachable") at once.
// Partition(kFar) takes a's end down instead: b's end keeps its address and
// route but has no carrier, so b's packets vanish silently, as across a
// cut cable further away. Heal() brings the end back up.
class VethLink {
 public:
  static std::unique_ptr<VethLink> Create(const NetNamespace* a,
                                          const NetNamespace* b,
                                          std::string* error);
  ~VethLink();
  VethLink(const VethLink&) = delete;
  VethLink& operator=(const VethLink&) = delete;

  const std::string& a_ip() const { return a_ip_; }
  const std::string& b_ip() const { return b_ip_; }
  enum class Side { kNear, kFar };
  bool Partition(Side side = Side::kNear);
  bool Heal();

 private:
  VethLink() = default;
  bool Set(Side side, const char* state);

  const NetNamespace* a_ = nullptr;
  const NetNamespace* b_ = nullptr;
  std::string a_dev_, b_dev_, a_ip_, b_ip_;
  Side down_ = Side::kNear;
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_NETNS_H_
