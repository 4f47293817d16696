// Two coordinators sharing one real redis-server (or a Sentinel-managed
// pair), each with agents, as real processes on loopback: everything any
// agent or admin does reaches every agent, and Redis crashes, empty
// restarts, failovers and a dead coordinator lose nothing acknowledged.
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/redis_server.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::RedisSentinel;
using testing::RedisServer;
using testing::RedisServerOptions;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);

std::vector<std::string> RedisFlags(const RedisServer& redis) {
  return {"--store=redis", "--redis=" + redis.address(), "--redis-timeout=1s"};
}

// True when every agent's map holds every address.
bool AllHaveAll(const Cluster& c, const std::vector<std::string>& ips) {
  for (const std::string& ip : ips) {
    if (!c.AllHave(ip)) return false;
  }
  return true;
}

// True when the cluster state (dump through coordinator k) has every address.
bool DumpHasAll(Cluster& c, const std::vector<std::string>& ips, int k = 0) {
  std::string out;
  if (c.Vsmtprelay({"dump"}, &out, k) != 0) return false;
  for (const std::string& ip : ips) {
    if (out.find(ip + "\t") == std::string::npos) return false;
  }
  return true;
}

// Logs in `count` addresses round-robin over the agents; returns them.
std::vector<std::string> LoginMany(Cluster& c, int agents, int count,
                                   const std::string& prefix) {
  std::vector<std::string> ips;
  for (int i = 0; i < count; ++i) {
    ips.push_back(absl::StrCat(prefix, i + 1));
    EXPECT_EQ(c.Notify(i % agents, ips.back()), 0);
  }
  return ips;
}

class RedisClusterTest : public ::testing::Test {
 protected:
  RedisServerOptions Durable() {
    RedisServerOptions o;
    o.appendonly = true;  // appendfsync always
    return o;
  }
};

TEST_F(RedisClusterTest, TwoCoordinatorsFourAgentsShareEverything) {
  RedisServer redis(Durable());
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(4, RedisFlags(redis), /*coordinators=*/2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // A login at any agent (agents 0, 2 on coordinator 0; 1, 3 on 1).
  std::vector<std::string> ips = LoginMany(c, 4, 8, "10.44.0.");
  EXPECT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, ips); }, kPropagation))
      << c.Logs();
  // Admin commands through either coordinator reach every agent.
  ASSERT_EQ(c.Vsmtprelay({"add", "10.44.1.1"}, nullptr, 1), 0);
  ASSERT_EQ(c.Vsmtprelay({"delete", "10.44.0.1"}, nullptr, 0), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("10.44.1.1") && c.AllHave("10.44.0.1", false); },
      kPropagation))
      << c.Logs();
  std::string a, b;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &a, 0), 0);
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &b, 1), 0);
  EXPECT_EQ(a, b) << "one state behind both coordinators";
  ASSERT_EQ(c.Vsmtprelay({"status"}, &a, 1), 0);
  EXPECT_THAT(a, HasSubstr("store: redis:" + redis.address()));
  EXPECT_THAT(a, HasSubstr("agents connected: 2"));
}

TEST_F(RedisClusterTest, RedisKilledAndRestartedWithAofLosesNothing) {
  RedisServer redis(Durable());
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(4, RedisFlags(redis), 2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> before = LoginMany(c, 4, 12, "10.45.0.");
  ASSERT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, before); }, kPropagation))
      << c.Logs();
  redis.Stop(SIGKILL);
  // Redis down: the coordinators say so; hosts keep their maps and relay
  // their own new logins at once.
  std::string out;
  EXPECT_EQ(c.Vsmtprelay({"dump"}, &out), 1);
  EXPECT_TRUE(AllHaveAll(c, before));
  ASSERT_EQ(c.Notify(1, "10.45.1.1"), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "10.45.1.1").has_value(); }, absl::Seconds(2)));
  ASSERT_EQ(redis.Restart(), absl::OkStatus());
  std::vector<std::string> all = before;
  all.push_back("10.45.1.1");
  EXPECT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, all); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(DumpHasAll(c, all, 1));
}

// An agent that says hello while Redis is down (or loading its AOF) is told
// to come back, not that the store lost its state: re-sending its whole map
// would queue every entry, through the login rate limit, ahead of its new
// logins (the chaos soak lost 17,985 logins to it).
TEST_F(RedisClusterTest, AgentConnectingWhileRedisIsDownIsNotToldToResend) {
  RedisServer redis(Durable());
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(2, RedisFlags(redis), 1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> before = LoginMany(c, 2, 6, "10.49.0.");
  ASSERT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, before); }, kPropagation))
      << c.Logs();
  redis.Stop(SIGKILL);
  c.StopAgent(1, SIGKILL);
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  // Several hellos while the store cannot answer (the agent retries every
  // second at most).
  absl::SleepFor(absl::Seconds(3));
  ASSERT_EQ(redis.Restart(), absl::OkStatus());
  ASSERT_EQ(c.Notify(0, "10.49.1.1"), 0);
  std::vector<std::string> all = before;
  all.push_back("10.49.1.1");
  EXPECT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, all); }, kPropagation))
      << c.Logs();
  EXPECT_THAT(c.Logs(), Not(HasSubstr("lost state")));
}

// Refused at hello while Redis is down (UNAVAILABLE), an agent keeps
// trying every second at most, not on its growing backoff (up to 5 s): it
// is back within about a second of Redis.
TEST_F(RedisClusterTest, AnAgentRefusedWhileRedisIsDownIsBackWithinASecond) {
  RedisServer redis(Durable());
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(2, RedisFlags(redis), 1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  redis.Stop(SIGKILL);
  c.StopAgent(1, SIGKILL);
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  absl::SleepFor(absl::Seconds(12));  // a dozen refused hellos
  const std::string log_path = c.dir() + "/coordinator-0.log";
  const size_t from = ReadFile(log_path).size();
  ASSERT_EQ(redis.Restart(), absl::OkStatus());
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(WaitForCondition(
      [&] {
        return ReadFile(log_path).find("agent agent1 connected from", from) !=
               std::string::npos;
      },
      absl::Seconds(20)))
      << c.Logs();
  const absl::Duration back = absl::Now() - restarted;
  std::cout << "agent back " << back << " after Redis\n";
  EXPECT_LT(back, absl::Milliseconds(1500)) << c.Logs();
  EXPECT_THAT(ReadFile(c.dir() + "/agent-1.log"),
              HasSubstr("stream ended: store: "));
}

TEST_F(RedisClusterTest, RedisRestartedEmptyIsRefilledByAgents) {
  RedisServer redis;  // no persistence at all
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(4, RedisFlags(redis), 2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> ips = LoginMany(c, 4, 12, "10.46.0.");
  ASSERT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, ips); }, kPropagation))
      << c.Logs();
  ASSERT_EQ(redis.WipeAndRestart(), absl::OkStatus());
  // The agents re-send what they hold; the new (empty) store fills again
  // and no map drops an entry meanwhile.
  EXPECT_TRUE(
      WaitForCondition([&] { return DumpHasAll(c, ips, 0); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(AllHaveAll(c, ips)) << c.Logs();
  ASSERT_EQ(c.Notify(3, "10.46.1.1"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("10.46.1.1"); }, kPropagation))
      << c.Logs();
}

TEST_F(RedisClusterTest, AgentsOfAKilledCoordinatorFailOver) {
  RedisServer redis(Durable());
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(4, RedisFlags(redis), 2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  c.StopCoordinator(SIGKILL, 0);  // home of agents 0 and 2
  ASSERT_EQ(c.Notify(0, "10.47.0.1"), 0);
  ASSERT_EQ(c.Notify(2, "10.47.0.2"), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("10.47.0.1") && c.AllHave("10.47.0.2"); },
      kPropagation))
      << c.Logs();
  std::string out;
  ASSERT_EQ(c.Vsmtprelay({"status"}, &out, 1), 0);
  EXPECT_THAT(out, HasSubstr("agents connected: 4"));
}

TEST_F(RedisClusterTest, SentinelFailoverIsFollowed) {
  RedisServer master(Durable());
  ASSERT_EQ(master.Start(), absl::OkStatus());
  RedisServerOptions replica_options = Durable();
  replica_options.replicaof = master.address();
  RedisServer replica(replica_options);
  ASSERT_EQ(replica.Start(), absl::OkStatus());
  RedisSentinel sentinel("relaysync-test", master.address());
  ASSERT_EQ(sentinel.Start(), absl::OkStatus());
  ASSERT_TRUE(WaitForCondition([&] { return sentinel.ReplicaCount() == 1; },
                               absl::Seconds(15)));
  Cluster c(4,
            {"--store=redis", "--redis-sentinel=" + sentinel.address(),
             "--redis-master-name=relaysync-test", "--redis-timeout=1s"},
            2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> ips = LoginMany(c, 4, 8, "10.48.0.");
  ASSERT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, ips); }, kPropagation))
      << c.Logs();
  master.Stop(SIGKILL);
  ASSERT_TRUE(WaitForCondition(
      [&] { return sentinel.MasterAddress() == replica.address(); },
      absl::Seconds(30)))
      << "sentinel never promoted the replica";
  ips.push_back("10.48.1.1");
  ASSERT_EQ(c.Notify(1, ips.back()), 0);
  // Everything acknowledged before the failover is still there (re-sent by
  // the agents if replication had not caught up), and new logins flow.
  EXPECT_TRUE(
      WaitForCondition([&] { return DumpHasAll(c, ips, 1); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(
      WaitForCondition([&] { return AllHaveAll(c, ips); }, kPropagation))
      << c.Logs();
}

}  // namespace
}  // namespace relaysync
