#include "agent/notify_client.h"

#include <unistd.h>

#include <chrono>
#include <string>

#include "agent/notify_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/notify_test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::HeldSink;
using ::relaysync::testing::Login;
using ::relaysync::testing::NotifySocketTest;
using ::relaysync::testing::Received;
using ::testing::HasSubstr;

// A confirming sender hears "ok" only once the sink has stored the login,
// and the sink's error otherwise.
TEST_F(NotifySocketTest, AConfirmingSenderHearsWhatTheSinkSaid) {
  Received received;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  const std::string path = dir_.File("notify.sock");
  EXPECT_TRUE(
      SendNotifyConfirmed(path, Login("192.0.2.1", "a"), absl::Seconds(5))
          .ok());
  EXPECT_EQ(received.WaitFor(1).size(), 1u);
  received.SetStatus(absl::UnavailableError("spool: disk full"));
  absl::Status s =
      SendNotifyConfirmed(path, Login("192.0.2.2", "b"), absl::Seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_THAT(s.message(), HasSubstr("spool: disk full"));
}

TEST_F(NotifySocketTest, NoAnswerInTimeIsADeadlineNotASuccess) {
  HeldSink held;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(held.Sink()).ok());
  const auto start = std::chrono::steady_clock::now();
  absl::Status s =
      SendNotifyConfirmed(dir_.File("notify.sock"), Login("192.0.2.1", "a"),
                          absl::Milliseconds(150));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  held.Release();
}

TEST_F(NotifySocketTest, MissingSocketFailsQuicklyNamingThePath) {
  const std::string path = dir_.File("nobody-here.sock");
  auto start = std::chrono::steady_clock::now();
  absl::Status status =
      SendNotify(path, Login("192.0.2.1", "alice"), absl::Seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find(path), absl::string_view::npos) << status;
}

TEST_F(NotifySocketTest, SocketWithoutListenerIsRefusedQuickly) {
  {
    NotifySource source(Opts());
    ASSERT_TRUE(source
                    .Start([](const std::vector<LocalLogin>&) {
                      return absl::OkStatus();
                    })
                    .ok());
    // Leave a stale socket behind, as a crashed agent would.
    ASSERT_EQ(
        link(dir_.File("notify.sock").c_str(), dir_.File("stale.sock").c_str()),
        0);
  }
  absl::Status status = SendNotify(dir_.File("stale.sock"),
                                   Login("192.0.2.1", "a"), absl::Seconds(5));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("stale.sock"), absl::string_view::npos);
}

TEST_F(NotifySocketTest, FullQueueTimesOutInsteadOfBlocking) {
  HeldSink held;
  NotifySource source(Opts());
  // The sink blocks, so the socket's receive queue fills up.
  ASSERT_TRUE(source.Start(held.Sink()).ok());
  absl::Status status;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000 && status.ok(); ++i) {
    start = std::chrono::steady_clock::now();
    status = SendNotify(dir_.File("notify.sock"), Login("192.0.2.1", "a"),
                        absl::Milliseconds(100));
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(elapsed, std::chrono::milliseconds(90));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
  held.Release();
}

}  // namespace
}  // namespace relaysync
