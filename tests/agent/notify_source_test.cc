#include "agent/notify_source.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/notify_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/wait.h"
#include "tests/agent/notify_test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::kNow;
using ::relaysync::testing::Login;
using ::relaysync::testing::NotifySocketTest;
using ::relaysync::testing::Received;
using ::relaysync::testing::SendRaw;
using ::testing::HasSubstr;

TEST_F(NotifySocketTest, RoundTrip) {
  Received received;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  EXPECT_EQ(source.Name(), "notify:" + dir_.File("notify.sock"));
  struct stat st;
  ASSERT_EQ(lstat(dir_.File("notify.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);

  ASSERT_TRUE(SendNotify(dir_.File("notify.sock"),
                         Login("::ffff:192.0.2.7", "alice"), absl::Seconds(1))
                  .ok());
  LocalLogin pop = Login("2001:DB8::0:9", "bob@example.org");
  pop.protocol = LocalLogin::Protocol::kPop3;
  pop.source = "";
  ASSERT_TRUE(SendNotify(dir_.File("notify.sock"), pop, absl::Seconds(1)).ok());

  std::vector<LocalLogin> got = received.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].address, "192.0.2.7");
  EXPECT_EQ(got[0].user, "alice");
  EXPECT_EQ(got[0].protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(got[0].source, "notify:script-login");
  EXPECT_EQ(got[0].login_time, absl::ToUnixSeconds(kNow));
  EXPECT_EQ(got[1].address, "2001:db8::9");
  EXPECT_EQ(got[1].protocol, LocalLogin::Protocol::kPop3);
  EXPECT_EQ(got[1].source, "notify");

  source.Stop();
  EXPECT_NE(access(dir_.File("notify.sock").c_str(), F_OK), 0)
      << "socket file left behind";
}

TEST_F(NotifySocketTest, BadMessagesAreDroppedAndTheSourceKeepsRunning) {
  Received received;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  const std::string path = dir_.File("notify.sock");
  const std::vector<std::string> bad = {
      "",
      "\n",
      "garbage",
      "v2\t192.0.2.1\talice\timap\tx\n",
      "v1\t192.0.2.1\talice\timap\n",
      "v1\t192.0.2.1\talice\timap\tx\textra\n",
      "v1\t300.0.0.1\talice\timap\tx\n",
      "v1\t192.0.2.1 \talice\timap\tx\n",
      "v1\t192.0.2.1\talice\tsmtp\tx\n",
      "v1\t192.0.2.1\talice\tIMAP\tx\n",
      // Over kMaxNotifyMessageBytes: no sender of ours writes one.
      "v1\t192.0.2.1\talice\timap\t" + std::string(5000, 's'),
  };
  for (const std::string& message : bad) SendRaw(path, message);
  SendRaw(path, "v1\t192.0.2.99\tgood\tunknown\tprobe\n");
  std::vector<LocalLogin> got = received.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].address, "192.0.2.99");
  EXPECT_EQ(got[0].protocol, LocalLogin::Protocol::kUnknown);
  EXPECT_EQ(source.dropped(), bad.size());
}

// A name is whatever the sender had: never a reason to lose the login.
TEST_F(NotifySocketTest, OddNamesAreCutAndEscapedNotRefused) {
  Received received;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  const std::string path = dir_.File("notify.sock");
  SendRaw(path, "v1\t192.0.2.1\tal\rice\timap\tx\n");
  SendRaw(path, "v1\t192.0.2.2\t" + std::string(300, 'u') + "\timap\tx\n");
  SendRaw(path, std::string("v1\t192.0.2.3\ta") + '\0' + "b\timap\tx\n");
  SendRaw(path, "v1\t192.0.2.4\tj\xf6rg\timap\t" + std::string(1000, 's'));
  std::vector<LocalLogin> got = received.WaitFor(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].user, "al\\x0dice");
  EXPECT_EQ(got[1].user, std::string(256, 'u'));
  EXPECT_EQ(got[2].user, "a\\x00b");
  EXPECT_EQ(got[3].user, "j\xf6rg");
  EXPECT_EQ(got[3].source.size(), 256u);
  EXPECT_EQ(source.dropped(), 0u);
}

TEST_F(NotifySocketTest, AConfirmingSenderThatIsNotAllowedHearsSoAtOnce) {
  NotifySource::Options options = Opts();
  options.senders = NotifySenders();
  NotifySource source(options);
  ASSERT_TRUE(source
                  .Start([](const std::vector<LocalLogin>&) {
                    ADD_FAILURE() << "a login got through";
                    return absl::OkStatus();
                  })
                  .ok());
  absl::Status s = SendNotifyConfirmed(
      dir_.File("notify.sock"), Login("192.0.2.1", "a"), absl::Seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_THAT(s.message(), HasSubstr("not an allowed sender"));
}

TEST_F(NotifySocketTest, StaleSocketFileIsReplaced) {
  NotifySource::Options options = Opts();
  options.socket_path = dir_.File("stale.sock");
  {
    NotifySource first(Opts());
    ASSERT_TRUE(first
                    .Start([](const std::vector<LocalLogin>&) {
                      return absl::OkStatus();
                    })
                    .ok());
    ASSERT_EQ(
        link(dir_.File("notify.sock").c_str(), dir_.File("stale.sock").c_str()),
        0);
  }
  Received received;
  NotifySource source(options);
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  ASSERT_TRUE(
      SendNotify(options.socket_path, Login("192.0.2.5", "a"), absl::Seconds(1))
          .ok());
  EXPECT_EQ(received.WaitFor(1).size(), 1u);
}

TEST_F(NotifySocketTest, LiveSocketOfAnotherAgentIsNotStolen) {
  NotifySource first(Opts());
  ASSERT_TRUE(first
                  .Start([](const std::vector<LocalLogin>&) {
                    return absl::OkStatus();
                  })
                  .ok());
  NotifySource second(Opts());
  absl::Status status = second.Start(
      [](const std::vector<LocalLogin>&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
}

TEST_F(NotifySocketTest, RegularFileAtThePathIsRefused) {
  ::relaysync::testing::WriteFile(dir_.File("notify.sock"), "precious\n");
  NotifySource source(Opts());
  absl::Status status = source.Start(
      [](const std::vector<LocalLogin>&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find(dir_.File("notify.sock")),
            absl::string_view::npos);
  EXPECT_EQ(::relaysync::testing::ReadFile(dir_.File("notify.sock")),
            "precious\n");
}

TEST_F(NotifySocketTest, ConfiguredModeIsApplied) {
  NotifySource::Options options = Opts();
  options.mode = 0600;
  NotifySource source(options);
  ASSERT_TRUE(source
                  .Start([](const std::vector<LocalLogin>&) {
                    return absl::OkStatus();
                  })
                  .ok());
  struct stat st;
  ASSERT_EQ(lstat(options.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(NotifySocketTest, WaitingDatagramsReachTheSinkTogether) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<size_t> batches;
  NotifySource source(Opts());
  ASSERT_TRUE(source
                  .Start([&](const std::vector<LocalLogin>& logins) {
                    std::unique_lock<std::mutex> lock(mu);
                    batches.push_back(logins.size());
                    cv.notify_all();
                    // The first call holds the source while more arrive.
                    cv.wait(lock, [&] { return release; });
                    return absl::OkStatus();
                  })
                  .ok());
  const std::string socket = dir_.File("notify.sock");
  ASSERT_TRUE(
      SendNotify(socket, Login("192.0.2.1", "a"), absl::Seconds(1)).ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                            [&] { return batches.size() == 1; }));
  }
  for (int i = 2; i <= 6; ++i) {
    ASSERT_TRUE(SendNotify(socket, Login(absl::StrCat("192.0.2.", i), "a"),
                           absl::Seconds(1))
                    .ok());
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                            [&] { return batches.size() == 2; }));
  }
  source.Stop();
  EXPECT_EQ(batches, (std::vector<size_t>{1, 5}));
}

// Sends `bytes` to `path` from a child process running as `uid`:`gid`;
// true if the child sent it. After fork the child makes only system calls
// (the parent has threads).
bool SendAs(uid_t uid, gid_t gid, const std::string& path,
            const std::string& bytes) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  pid_t child = fork();
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      _exit(3);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) _exit(4);
    ssize_t n = sendto(fd, bytes.data(), bytes.size(), 0,
                       reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
    _exit(n == static_cast<ssize_t>(bytes.size()) ? 0 : 5);
  }
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child &&
         WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Sending as another user needs root; CI runs the tests as root.
class NotifySenderTest : public NotifySocketTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u)
        << "this test sends datagrams as user nobody: run it as root";
    struct passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr) << "no user nobody";
    nobody_uid_ = nobody->pw_uid;
    nobody_gid_ = nobody->pw_gid;
    // nobody must reach the socket: the only gate left is the credentials.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  }
  NotifySource::Options Opts() {
    NotifySource::Options options = NotifySocketTest::Opts();
    options.mode = 0666;
    return options;
  }

  uid_t nobody_uid_ = 0;
  gid_t nobody_gid_ = 0;
};

TEST_F(NotifySenderTest, ADatagramFromANotAllowedUserIsRefused) {
  Received received;
  NotifySource source(Opts());
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  const std::string path = dir_.File("notify.sock");
  ASSERT_TRUE(SendAs(nobody_uid_, nobody_gid_, path,
                     "v1\t192.0.2.66\tmallory\timap\tforged\n"));
  // From root, allowed: once it is here, the earlier one was handled.
  SendRaw(path, "v1\t192.0.2.10\talice\timap\thook\n");
  std::vector<LocalLogin> got = received.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].address, "192.0.2.10");
  EXPECT_EQ(source.refused(), 1u);
  EXPECT_EQ(source.dropped(), 0u);
}

TEST_F(NotifySenderTest, ADatagramFromAnAllowedUserIsAccepted) {
  NotifySource::Options options = Opts();
  options.senders.AllowUid(nobody_uid_);
  Received received;
  NotifySource source(options);
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  ASSERT_TRUE(SendAs(nobody_uid_, nobody_gid_, dir_.File("notify.sock"),
                     "v1\t192.0.2.67\talice\timap\thook\n"));
  std::vector<LocalLogin> got = received.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].address, "192.0.2.67");
  EXPECT_EQ(source.refused(), 0u);
}

TEST_F(NotifySenderTest, ADatagramFromAnAllowedPrimaryGroupIsAccepted) {
  NotifySource::Options options = Opts();
  options.senders.AllowGid(nobody_gid_);
  Received received;
  NotifySource source(options);
  ASSERT_TRUE(source.Start(received.Sink()).ok());
  ASSERT_TRUE(SendAs(nobody_uid_, nobody_gid_, dir_.File("notify.sock"),
                     "v1\t192.0.2.68\talice\timap\thook\n"));
  std::vector<LocalLogin> got = received.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].address, "192.0.2.68");
}

TEST_F(NotifySenderTest, TheSocketGetsTheConfiguredGroup) {
  NotifySource::Options options = Opts();
  options.group = nobody_gid_;
  options.mode = 0660;
  NotifySource source(options);
  ASSERT_TRUE(source
                  .Start([](const std::vector<LocalLogin>&) {
                    return absl::OkStatus();
                  })
                  .ok());
  struct stat st;
  ASSERT_EQ(lstat(options.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, nobody_gid_);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_F(NotifySocketTest, EvenOwnDatagramsAreRefusedWhenNoSenderIsAllowed) {
  NotifySource::Options options = Opts();
  options.senders = NotifySenders();
  NotifySource source(options);
  ASSERT_TRUE(source
                  .Start([](const std::vector<LocalLogin>&) {
                    ADD_FAILURE() << "a login got through";
                    return absl::OkStatus();
                  })
                  .ok());
  SendRaw(dir_.File("notify.sock"), "v1\t192.0.2.69\talice\timap\thook\n");
  EXPECT_TRUE(::relaysync::testing::WaitForCondition(
      [&] { return source.refused() == 1; }, absl::Seconds(5)));
}

}  // namespace
}  // namespace relaysync
