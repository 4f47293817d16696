#include "agent/notify_drop_dir.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "agent/notify_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;
using ::relaysync::testing::WaitForCondition;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'795'000'000);

LocalLogin Login(const std::string& address) {
  LocalLogin login;
  login.address = address;
  login.user = "alice";
  login.protocol = LocalLogin::Protocol::kImap;
  login.source = "hook";
  return login;
}

class Collector {
 public:
  EventSource::Sink Sink() {
    return [this](const std::vector<LocalLogin>& logins) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status_.ok()) return status_;
      logins_.insert(logins_.end(), logins.begin(), logins.end());
      return absl::OkStatus();
    };
  }
  void SetStatus(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(s);
  }
  std::vector<LocalLogin> logins() {
    std::lock_guard<std::mutex> lock(mu_);
    return logins_;
  }

 private:
  std::mutex mu_;
  absl::Status status_;
  std::vector<LocalLogin> logins_;
};

class NotifyDropDirTest : public ::testing::Test {
 protected:
  NotifyDropDir::Options Opts() {
    NotifyDropDir::Options o;
    o.dir = dir_.File("drop");
    o.clock = &clock_;
    o.interval = absl::Milliseconds(20);
    return o;
  }
  // Files ending in ".login" in the drop directory.
  size_t Files() {
    size_t n = 0;
    DIR* d = opendir(dir_.File("drop").c_str());
    if (d == nullptr) return 0;
    while (struct dirent* e = readdir(d)) {
      n += std::string(e->d_name).find(".login") != std::string::npos;
    }
    closedir(d);
    return n;
  }

  ScratchDir dir_;
  FakeClock clock_{kNow};
};

TEST_F(NotifyDropDirTest, LeftLoginsAreTakenAtStartAndRemovedOnceStored) {
  ASSERT_EQ(mkdir(dir_.File("drop").c_str(), 0700), 0);
  ASSERT_TRUE(WriteNotifyDropFile(dir_.File("drop"), Login("192.0.2.1")).ok());
  ASSERT_TRUE(WriteNotifyDropFile(dir_.File("drop"), Login("192.0.2.2")).ok());
  EXPECT_EQ(Files(), 2u);
  Collector got;
  NotifyDropDir drop(Opts());
  ASSERT_TRUE(drop.Start(got.Sink()).ok());
  ASSERT_TRUE(WaitForCondition([&] { return got.logins().size() == 2; },
                               absl::Seconds(5)));
  EXPECT_EQ(got.logins()[0].address, "192.0.2.1");  // in the order written
  EXPECT_EQ(got.logins()[1].address, "192.0.2.2");
  EXPECT_EQ(got.logins()[0].user, "alice");
  EXPECT_EQ(got.logins()[0].source, "notify:hook");
  EXPECT_TRUE(WaitForCondition([&] { return Files() == 0; }, absl::Seconds(5)));
  // The directory is the agent's, sticky, and open to nobody else by default
  // (the socket's default mode 0660 lets the agent's group drop files).
  struct stat st;
  ASSERT_EQ(stat(dir_.File("drop").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01730u);
}

TEST_F(NotifyDropDirTest, AFileStaysUntilTheSinkHasStoredIt) {
  Collector got;
  got.SetStatus(absl::UnavailableError("spool: disk full"));
  NotifyDropDir drop(Opts());
  ASSERT_TRUE(drop.Start(got.Sink()).ok());
  ASSERT_TRUE(WriteNotifyDropFile(dir_.File("drop"), Login("192.0.2.3")).ok());
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Files(), 1u);
  got.SetStatus(absl::OkStatus());
  ASSERT_TRUE(WaitForCondition([&] { return got.logins().size() == 1; },
                               absl::Seconds(5)));
  EXPECT_TRUE(WaitForCondition([&] { return Files() == 0; }, absl::Seconds(5)));
}

TEST_F(NotifyDropDirTest, AFileCannotBeDatedIntoTheFuture) {
  Collector got;
  NotifyDropDir drop(Opts());
  ASSERT_TRUE(drop.Start(got.Sink()).ok());
  drop.Stop();
  ASSERT_TRUE(WriteNotifyDropFile(dir_.File("drop"), Login("192.0.2.4")).ok());
  // Written "now" by the real clock, which is far past the fake kNow.
  NotifyDropDir again(Opts());
  ASSERT_TRUE(again.Start(got.Sink()).ok());
  ASSERT_TRUE(WaitForCondition([&] { return got.logins().size() == 1; },
                               absl::Seconds(5)));
  EXPECT_EQ(got.logins()[0].login_time, absl::ToUnixSeconds(kNow));
}

TEST_F(NotifyDropDirTest, FilesFromSendersNotAllowedAreRemovedUnread) {
  Collector got;
  NotifyDropDir::Options o = Opts();
  NotifyDropDir drop(o);
  ASSERT_TRUE(drop.Start(got.Sink()).ok());
  drop.Stop();
  ASSERT_TRUE(WriteNotifyDropFile(o.dir, Login("192.0.2.5")).ok());
  DIR* d = opendir(o.dir.c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.find(".login") != std::string::npos) {
      ASSERT_EQ(chown((o.dir + "/" + name).c_str(), 65534, 65534), 0);
    }
  }
  closedir(d);
  ASSERT_EQ(symlink("/etc/passwd", (o.dir + "/evil.login").c_str()), 0);
  NotifyDropDir again(o);
  ASSERT_TRUE(again.Start(got.Sink()).ok());
  ASSERT_TRUE(
      WaitForCondition([&] { return again.refused() == 2; }, absl::Seconds(5)));
  EXPECT_TRUE(got.logins().empty());
  EXPECT_EQ(Files(), 0u);
}

// A sender other than the agent may search the directory but not read it,
// so it cannot fsync it: the write is made durable all the same.
TEST_F(NotifyDropDirTest, ASenderThatCannotReadTheDirectoryStillWritesDurably) {
  const std::string dir = dir_.File("drop");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(dir.c_str(), 01733), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    _exit(WriteNotifyDropFile(dir, Login("192.0.2.9")).ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(Files(), 1u);
}

TEST_F(NotifyDropDirTest, ASymlinkInPlaceOfTheDirectoryIsRefused) {
  ASSERT_EQ(symlink("/tmp", dir_.File("drop").c_str()), 0);
  Collector got;
  NotifyDropDir drop(Opts());
  absl::Status s = drop.Start(got.Sink());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("not a directory"));
}

TEST_F(NotifyDropDirTest, NotifyDurablyFallsBackToTheDirectoryWithoutAnAgent) {
  ASSERT_EQ(mkdir(dir_.File("drop").c_str(), 0700), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(NotifyDurably(dir_.File("no-agent.sock"), dir_.File("drop"),
                            Login("192.0.2.6"), absl::Milliseconds(200))
                  .ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(200));
  EXPECT_EQ(Files(), 1u);
  // With neither, it says so and names both.
  absl::Status s =
      NotifyDurably(dir_.File("no-agent.sock"), dir_.File("no-dir"),
                    Login("192.0.2.7"), absl::Milliseconds(200));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("no-agent.sock"));
  EXPECT_THAT(s.message(), HasSubstr("no-dir"));
}

TEST_F(NotifyDropDirTest, NotifyDurablyPrefersTheAgentsAnswer) {
  Collector got;
  NotifySource::Options o;
  o.socket_path = dir_.File("notify.sock");
  o.clock = &clock_;
  NotifySource source(o);
  ASSERT_TRUE(source.Start(got.Sink()).ok());
  ASSERT_EQ(mkdir(dir_.File("drop").c_str(), 0700), 0);
  EXPECT_TRUE(NotifyDurably(o.socket_path, dir_.File("drop"),
                            Login("192.0.2.8"), absl::Milliseconds(500))
                  .ok());
  EXPECT_EQ(got.logins().size(), 1u);
  EXPECT_EQ(Files(), 0u);
}

}  // namespace
}  // namespace relaysync
