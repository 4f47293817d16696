// Coordinators on a real redis-server as the least-privilege ACL user of
// deploy/redis/relaysync.acl (docs/redis.md), with the default user behind
// a password: logins merge, agents get snapshots and follow every change,
// admin commands work; a wrong password stops the coordinator at start
// with an error naming Redis and the authentication failure.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/redis_server.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RedisServer;
using testing::RedisServerOptions;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);
constexpr char kAclPassword[] = "acl-pw-4242";

class RedisAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServerOptions options;
    options.appendonly = true;
    options.requirepass = "default-pw-1701";
    absl::StatusOr<std::string> acl_user =
        testing::RelaysyncAclUser(kAclPassword);
    ASSERT_TRUE(acl_user.ok()) << acl_user.status();
    options.acl_users = {*acl_user};
    redis_ = std::make_unique<RedisServer>(options);
    ASSERT_EQ(redis_->Start(), absl::OkStatus());
  }

  // The coordinator's Redis flags, AUTH as relaysync with `password`.
  std::vector<std::string> RedisFlags(const std::string& password) {
    const std::string file = dir_.File(absl::StrCat("pw-", files_++));
    testing::WriteFile(file, password + "\n");
    return {"--store=redis", "--redis=" + redis_->address(),
            "--redis-user=relaysync", "--redis-password-file=" + file,
            "--redis-timeout=1s"};
  }

  testing::ScratchDir dir_;
  int files_ = 0;
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(RedisAclTest, CoordinatorsWorkEndToEndAsTheAclUser) {
  Cluster c(2, RedisFlags(kAclPassword), /*coordinators=*/2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // Agent 0 is on coordinator 0, agent 1 on coordinator 1: each login is
  // merged by one and reaches the other's agent through the change log.
  ASSERT_EQ(c.Notify(0, "10.45.0.1"), 0);
  ASSERT_EQ(c.Notify(1, "10.45.0.2"), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("10.45.0.1") && c.AllHave("10.45.0.2"); },
      kPropagation))
      << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "10.45.0.3"}, nullptr, /*k=*/1), 0);
  ASSERT_EQ(c.Vsmtprelay({"delete", "10.45.0.1"}, nullptr, /*k=*/0), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("10.45.0.3") && c.AllHave("10.45.0.1", false); },
      kPropagation))
      << c.Logs();
  // A snapshot read (List) as that user.
  std::string dump;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &dump, /*k=*/1), 0) << dump;
  EXPECT_THAT(dump, HasSubstr("10.45.0.2\t"));
  EXPECT_THAT(dump, HasSubstr("10.45.0.3\t"));
  EXPECT_THAT(dump, Not(HasSubstr("10.45.0.1\t")));
  // An agent that starts again gets a snapshot.
  c.StopAgent(0, SIGTERM);
  ASSERT_TRUE(c.StartAgent(0)) << c.Logs();
  ASSERT_EQ(c.Notify(0, "10.45.0.4"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("10.45.0.4"); }, kPropagation))
      << c.Logs();
  // Every key the coordinators made is under the prefix the ACL allows.
  for (absl::string_view key :
       absl::StrSplit(redis_->Command({"KEYS", "*"}), '\n')) {
    EXPECT_THAT(std::string(key), ::testing::StartsWith("{relaysync}:"));
  }
  EXPECT_THAT(c.Logs(), Not(HasSubstr("NOPERM")));
}

TEST_F(RedisAclTest, AWrongPasswordStopsTheCoordinatorAtStart) {
  std::vector<std::string> argv = {RELAYSYNC_COORDINATOR_BIN,
                                   "--listen=127.0.0.1:0", "--insecure"};
  for (const std::string& flag : RedisFlags("wrong-pw-9999")) {
    argv.push_back(flag);
  }
  std::string out;
  const int code = testing::RunCommand(argv, &out, absl::Seconds(20));
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("redis ", redis_->address(),
                                          ": open: AUTH as user "
                                          "\"relaysync\": WRONGPASS")));
  EXPECT_THAT(out, Not(HasSubstr("wrong-pw-9999")));
  EXPECT_THAT(out, Not(HasSubstr("listening on")));
}

TEST_F(RedisAclTest, NoPasswordStopsTheCoordinatorAtStart) {
  std::string out;
  const int code = testing::RunCommand(
      {RELAYSYNC_COORDINATOR_BIN, "--listen=127.0.0.1:0", "--insecure",
       "--store=redis", "--redis=" + redis_->address(), "--redis-timeout=1s"},
      &out, absl::Seconds(20));
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("redis ", redis_->address())));
  EXPECT_THAT(out, HasSubstr("NOAUTH"));
}

}  // namespace
}  // namespace relaysync
