// Helpers for the notify socket tests (notify_client_test.cc,
// notify_source_test.cc, notify_message_test.cc): sinks that record or hold
// what a NotifySource delivers, a login to send, raw datagrams, and the
// NotifySocketTest fixture (a scratch directory and a fake clock).
#ifndef RELAYSYNC_TESTS_AGENT_NOTIFY_TEST_UTIL_H_
#define RELAYSYNC_TESTS_AGENT_NOTIFY_TEST_UTIL_H_

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/local_login.h"
#include "agent/notify_source.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace relaysync::testing {

inline const absl::Time kNow = absl::FromUnixSeconds(1'795'000'000);

// A sink that records what it is given and answers a settable status.
class Received {
 public:
  EventSource::Sink Sink() {
    return [this](const std::vector<LocalLogin>& logins) {
      std::lock_guard<std::mutex> lock(mu_);
      logins_.insert(logins_.end(), logins.begin(), logins.end());
      cv_.notify_all();
      return status_;
    };
  }
  // What the sink answers from now on.
  void SetStatus(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(s);
  }
  std::vector<LocalLogin> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5),
                 [&] { return logins_.size() >= n; });
    return logins_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LocalLogin> logins_;
  absl::Status status_;
};

// A sink that holds every call until Release(), as a stuck spool would:
// the socket's receive queue fills up and no sender gets an answer.
class HeldSink {
 public:
  ~HeldSink() { Release(); }
  EventSource::Sink Sink() {
    return [this](const std::vector<LocalLogin>&) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return released_; });
      return absl::OkStatus();
    };
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

inline LocalLogin Login(const std::string& address, const std::string& user) {
  LocalLogin login;
  login.address = address;
  login.user = user;
  login.protocol = LocalLogin::Protocol::kImap;
  login.source = "script-login";
  return login;
}

// Sends a raw datagram, bypassing FormatNotifyMessage's checks.
inline void SendRaw(const std::string& path, const std::string& bytes) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(sendto(fd, bytes.data(), bytes.size(), 0,
                   reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

class NotifySocketTest : public ::testing::Test {
 protected:
  NotifySource::Options Opts() {
    NotifySource::Options options;
    options.socket_path = dir_.File("notify.sock");
    options.clock = &clock_;
    return options;
  }

  ScratchDir dir_;
  FakeClock clock_{kNow};
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_AGENT_NOTIFY_TEST_UTIL_H_
