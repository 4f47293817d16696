#include "testing/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "testing/process.h"

namespace relaysync::testing {
namespace {

std::atomic<int> next_id{0};

// Runs a shell command; on failure puts the command and its output in
// `error`.
bool Sh(const std::string& command, std::string* error) {
  CommandResult r = RunShell(command + " 2>&1");
  if (r.exit_code == 0) return true;
  if (error != nullptr) {
    *error = absl::StrCat("`", command, "` failed (exit ", r.exit_code,
                          "): ", r.output);
  }
  return false;
}

// Deletes namespaces named rs-test-PID-N whose PID is gone (a test that was
// killed before its destructors ran).
void SweepStale() {
  CommandResult r = RunShell("ip netns list 2>/dev/null");
  for (absl::string_view line : absl::StrSplit(r.output, '\n')) {
    absl::string_view name = line.substr(0, line.find(' '));
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, "rs-test-")) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) || pid <= 0) {
      continue;
    }
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    RunShell(absl::StrCat("ip netns del '", name, "' 2>/dev/null"));
  }
}

// The third octet of this process's 10.255.X.0/24: from pid % 250 on, the
// first that no address in this namespace uses (another test's veth ends;
// ends inside namespaces cannot clash).
int ProcessSubnet() {
  static const int subnet = [] {
    const std::string used = RunShell("ip -o -4 addr show 2>/dev/null").output;
    const int start = getpid() % 250;
    for (int i = 0; i < 250; ++i) {
      const int x = (start + i) % 250;
      if (used.find(absl::StrCat(" 10.255.", x, ".")) == std::string::npos) {
        return x;
      }
    }
    return start;
  }();
  return subnet;
}

}  // namespace

std::unique_ptr<NetNamespace> NetNamespace::Create(std::string* error) {
  SweepStale();
  const std::string name =
      absl::StrCat("rs-test-", getpid(), "-", next_id.fetch_add(1));
  if (!Sh("ip netns add " + name, error)) {
    *error =
        absl::StrCat("cannot create network namespace ", name,
                     " (the partition tests need root and iproute2): ", *error);
    return nullptr;
  }
  std::unique_ptr<NetNamespace> ns(new NetNamespace(name));
  if (!Sh("ip netns exec " + name + " ip link set lo up", error)) {
    return nullptr;
  }
  return ns;
}

NetNamespace::~NetNamespace() { RunShell("ip netns del " + name_ + " 2>&1"); }

std::vector<std::string> NetNamespace::Wrap(
    const std::vector<std::string>& argv) const {
  std::vector<std::string> out = {"/usr/bin/env", "ip", "netns", "exec", name_};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::Status NetNamespace::EnterOnThisThread() const {
  const std::string path = "/var/run/netns/" + name_;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(path, ": open: ", errno));
  }
  const int r = setns(fd, CLONE_NEWNET);
  const int saved = errno;
  close(fd);
  if (r != 0) {
    return absl::InternalError(absl::StrCat(path, ": setns: ", saved));
  }
  return absl::OkStatus();
}

std::unique_ptr<VethLink> VethLink::Create(const NetNamespace* a,
                                           const NetNamespace* b,
                                           std::string* error) {
  const int n = next_id.fetch_add(1);
  std::unique_ptr<VethLink> link(new VethLink());
  link->a_ = a;
  link->b_ = b;
  // Interface names are at most 15 characters.
  const std::string base = absl::StrCat("rsv", getpid() % 1000000, "x", n % 64);
  link->a_dev_ = base + "a";
  link->b_dev_ = base + "b";
  // One /30 per pair: 10.255.<X>.<4n+1 / 4n+2>, X picked once per process.
  const std::string net = absl::StrCat("10.255.", ProcessSubnet(), ".");
  link->a_ip_ = absl::StrCat(net, 4 * (n % 64) + 1);
  link->b_ip_ = absl::StrCat(net, 4 * (n % 64) + 2);
  const std::string in_a =
      a == nullptr ? "" : "ip netns exec " + a->name() + " ";
  const std::string in_b = "ip netns exec " + b->name() + " ";
  if (!Sh(absl::StrCat(in_a, "ip link add ", link->a_dev_,
                       " type veth peer name ", link->b_dev_, " netns ",
                       b->name()),
          error) ||
      !Sh(absl::StrCat(in_a, "ip addr add ", link->a_ip_, "/30 dev ",
                       link->a_dev_),
          error) ||
      !Sh(absl::StrCat(in_a, "ip link set ", link->a_dev_, " up"), error) ||
      !Sh(absl::StrCat(in_b, "ip addr add ", link->b_ip_, "/30 dev ",
                       link->b_dev_),
          error) ||
      !Sh(absl::StrCat(in_b, "ip link set ", link->b_dev_, " up"), error)) {
    return nullptr;
  }
  return link;
}

VethLink::~VethLink() {
  // Deleting one end deletes the pair; gone already if a namespace went.
  RunShell(
      absl::StrCat(a_ == nullptr ? "" : "ip netns exec " + a_->name() + " ",
                   "ip link del ", a_dev_, " 2>/dev/null"));
}

bool VethLink::Set(Side side, const char* state) {
  const NetNamespace* ns = side == Side::kNear ? b_ : a_;
  const std::string& dev = side == Side::kNear ? b_dev_ : a_dev_;
  return Sh(
      absl::StrCat(ns == nullptr ? "" : "ip netns exec " + ns->name() + " ",
                   "ip link set ", dev, " ", state),
      nullptr);
}

bool VethLink::Partition(Side side) {
  down_ = side;
  return Set(side, "down");
}

bool VethLink::Heal() { return Set(down_, "up"); }

}  // namespace relaysync::testing
