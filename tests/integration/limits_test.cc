// Blast-radius limits between real processes: one agent flooding the
// cluster with logins is throttled without delaying the others, and
// without losing any of its own.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/notify_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/tls.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::WaitForCondition;

TEST(LimitsTest, FloodingAgentIsThrottledOthersAreNotAndNothingIsLost) {
  Cluster c(2, {"--agent-login-rate=20", "--agent-login-burst=20"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // Agent 0 reports 300 logins at once: 15 s of its budget. Sent from
  // here, not by 300 processes, so that they arrive faster than the budget
  // however busy the machine is.
  constexpr int kFlood = 300;
  const absl::Time flood_start = absl::Now();
  for (int i = 0; i < kFlood; ++i) {
    LocalLogin login;
    login.address = absl::StrCat("10.0.", i / 250, ".", i % 250 + 1);
    login.login_time = absl::ToUnixSeconds(absl::Now());
    login.user = "u";
    ASSERT_TRUE(SendNotify(c.Socket(0), login, absl::Seconds(5)).ok());
  }
  // Agent 1's one login crosses at once all the same.
  const absl::Time sent = absl::Now();
  ASSERT_EQ(c.Notify(1, "192.0.2.60"), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.Lookup(0, "192.0.2.60").has_value(); }, absl::Seconds(10)))
      << c.Logs();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(3));
  auto all_flood_in_map_1 = [&] {
    for (int i = 0; i < kFlood; ++i) {
      if (!c.Lookup(1, absl::StrCat("10.0.", i / 250, ".", i % 250 + 1))) {
        return false;
      }
    }
    return true;
  };
  // ...none of it is lost, and it trickles in at the limit: 300 logins at
  // 20/s, the first 20 at once, take 14 s.
  ASSERT_TRUE(WaitForCondition(all_flood_in_map_1, absl::Seconds(60)))
      << c.Logs();
  EXPECT_GE(absl::Now() - flood_start, absl::Seconds(12));
  // Caught up, the flooder sends at once again.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(c.Notify(0, absl::StrCat("10.1.0.", i + 1)), 0);
  }
  auto next_in_map_1 = [&] {
    for (int i = 0; i < 10; ++i) {
      if (!c.Lookup(1, absl::StrCat("10.1.0.", i + 1))) return false;
    }
    return true;
  };
  EXPECT_TRUE(WaitForCondition(next_in_map_1, absl::Seconds(30))) << c.Logs();
  const std::string logs = c.Logs();
  EXPECT_THAT(logs, HasSubstr("host agent0 is over its limit of 20 "
                              "logins/s (burst 20)"));
  // Refused batch by batch on one stream, which stays open: no reconnect
  // churn, and the flooder keeps receiving the cluster's changes.
  EXPECT_THAT(logs, HasSubstr("logins (kept in the spool)"));
  EXPECT_EQ(testing::CountOccurrences(logs, "agent agent0 connected from"), 1)
      << logs;
}

// A connection that makes no call (a client whose stream was refused at
// --max-streams keeps it, each holding ~100 kB with TLS) is closed within
// seconds by default, not after a minute: 8,000 of them, kept for a minute,
// took a coordinator to 809 MB.
TEST(LimitsTest, AConnectionWithoutACallIsClosedWithinSeconds) {
  Cluster c(1);  // the coordinator's defaults, mutual TLS
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  KeepOpenSslUntilExit();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = testing::ReadFile(c.Tls("ca.pem"));
  tls.pem_cert_chain = testing::ReadFile(c.Tls("agent-agent0.pem"));
  tls.pem_private_key = testing::ReadFile(c.Tls("agent-agent0.key"));
  auto channel = grpc::CreateChannel(c.target(), grpc::SslCredentials(tls));
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(10)));
  const absl::Time connected = absl::Now();
  // No call: the coordinator's GOAWAY takes the channel out of READY.
  EXPECT_TRUE(WaitForCondition(
      [&] { return channel->GetState(false) != GRPC_CHANNEL_READY; },
      absl::Seconds(20)));
  const absl::Duration held = absl::Now() - connected;
  std::cout << "a connection without a call was closed after " << held << "\n";
  EXPECT_LT(held, absl::Seconds(8));
}

TEST(LimitsTest, AUserGetsOnlySoManyAddressesEvenOnItsOwnHost) {
  // Later flags win: this cluster has the limit the harness turns off.
  Cluster c(2, {"--user-max-addresses=2", "--user-address-window=10m"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "198.51.100.1", "mallory"), 0);
  ASSERT_EQ(c.Notify(0, "198.51.100.2", "mallory"), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.AllHave("198.51.100.1") && c.AllHave("198.51.100.2"); },
      absl::Seconds(15)))
      << c.Logs();
  // A third address for the same user: refused, and removed again from the
  // map of the host that saw the login once the coordinator answered.
  ASSERT_EQ(c.Notify(0, "198.51.100.3", "mallory"), 0);
  ASSERT_EQ(c.Notify(0, "198.51.100.4", "alice"), 0);
  ASSERT_TRUE(WaitForCondition([&] { return c.AllHave("198.51.100.4"); },
                               absl::Seconds(15)))
      << c.Logs();
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("198.51.100.3", /*present=*/false); },
      absl::Seconds(15)))
      << c.Logs();
  EXPECT_THAT(c.Logs(), HasSubstr("user \"mallory\" already has 2 "
                                  "addresses granted in 10m"));
  // A known address of hers still works.
  ASSERT_EQ(c.Notify(1, "198.51.100.1", "mallory"), 0);
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(c.AllHave("198.51.100.1"));
}

}  // namespace
}  // namespace relaysync
