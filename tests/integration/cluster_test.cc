// A coordinator and three agents as real processes on loopback: logins,
// admin commands, expiry and crashes of either side.
#include "testing/cluster.h"

#include <signal.h>

#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "backends/map/relayers_db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(15);

TEST(ClusterTest, NotifyOnOneAgentAppearsInAllMaps) {
  Cluster c(3);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.10"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.10"); }, kPropagation))
      << c.Logs();
  // IPv6 lands in sendmail's key form in every map.
  ASSERT_EQ(c.Notify(2, "2001:db8::25", /*user=*/""), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.AllHave("ipv6:2001:db8:0:0:0:0:0:25"); }, kPropagation))
      << c.Logs();
  std::string out;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("192.0.2.10\t"));
  EXPECT_THAT(out, HasSubstr("2001:db8::25\t"));
  ASSERT_EQ(c.Vsmtprelay({"status"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("agents connected: 3"));
  EXPECT_THAT(out, HasSubstr("entries: 2"));
}

TEST(ClusterTest, AdminAddDeleteAndExpireReachEveryAgent) {
  // No automatic expiry: the old entry below must wait for the admin.
  Cluster c(3, {"--expire-after=0"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "198.51.100.1"}), 0);
  ASSERT_EQ(c.Vsmtprelay({"add", "198.51.100.2", "1000"}), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.AllHave("198.51.100.1") && c.AllHave("198.51.100.2"); },
      kPropagation))
      << c.Logs();
  EXPECT_EQ(c.Lookup(1, "198.51.100.2"), "1000");

  std::string out;
  EXPECT_EQ(c.Vsmtprelay({"delete", "198.51.100.1", "198.51.100.99"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("198.51.100.99: not present"));
  EXPECT_TRUE(WaitForCondition([&] { return c.AllHave("198.51.100.1", false); },
                               kPropagation))
      << c.Logs();

  ASSERT_EQ(c.Vsmtprelay({"expire", "60"}, &out), 0);
  EXPECT_EQ(out, "expired 1 entry\n");
  EXPECT_TRUE(WaitForCondition([&] { return c.AllHave("198.51.100.2", false); },
                               kPropagation))
      << c.Logs();
}

TEST(ClusterTest, CoordinatorExpiresOldEntriesItself) {
  Cluster c(2, {"--expire-after=3s"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // The login is stamped at or after the whole second before this.
  const absl::Time sent = absl::Now();
  ASSERT_EQ(c.Notify(0, "203.0.113.7"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("203.0.113.7"); }, kPropagation))
      << c.Logs();
  ASSERT_TRUE(WaitForCondition([&] { return c.AllHave("203.0.113.7", false); },
                               absl::Seconds(10)))
      << c.Logs();
  // Gone no sooner than the window allows: ticks + 3 s, with whole-second
  // ticks at least 2 s after the login was sent.
  EXPECT_GE(absl::Now() - sent, absl::Seconds(2));
}

// The agents keep the policy the coordinator told them and expire entries
// themselves while it is down: an entry from the cluster and an agent's own
// login made during the outage leave the maps within expiry + 1 s, stay out
// across a restart of the agent, and the maps converge once it is back.
TEST(ClusterTest, AgentsExpireEntriesThemselvesWhileTheCoordinatorIsDown) {
  constexpr int64_t kExpireAfter = 4;
  Cluster c(2, {absl::StrCat("--expire-after=", kExpireAfter, "s")});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "203.0.113.30"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("203.0.113.30"); }, kPropagation))
      << c.Logs();
  c.StopCoordinator(SIGKILL);
  // Agent 1's own login, which no coordinator acknowledges.
  ASSERT_EQ(c.Notify(1, "203.0.113.31"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.Lookup(1, "203.0.113.31").has_value(); },
                       absl::Seconds(2)));

  // When each copy falls due (ticks + expiry) and when it left its map.
  struct Copy {
    int agent;
    std::string key;
    absl::Time due;
    std::optional<absl::Time> gone;
  };
  std::vector<Copy> copies;
  for (const auto& [agent, key] : std::vector<std::pair<int, std::string>>{
           {0, "203.0.113.30"}, {1, "203.0.113.30"}, {1, "203.0.113.31"}}) {
    std::optional<std::string> value = c.Lookup(agent, key);
    int64_t ticks = 0;
    ASSERT_TRUE(value.has_value() && absl::SimpleAtoi(*value, &ticks)) << key;
    copies.push_back({agent, key, absl::FromUnixSeconds(ticks + kExpireAfter),
                      std::nullopt});
  }
  ASSERT_LT(absl::Now(), copies[0].due) << "the outage began before expiry";
  const absl::Time deadline = copies.back().due + absl::Seconds(5);
  for (bool all_gone = false; !all_gone && absl::Now() < deadline;) {
    all_gone = true;
    for (Copy& copy : copies) {
      if (copy.gone.has_value()) continue;
      if (c.Lookup(copy.agent, copy.key).has_value()) {
        all_gone = false;
      } else {
        copy.gone = absl::Now();
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (const Copy& copy : copies) {
    ASSERT_TRUE(copy.gone.has_value())
        << copy.key << " still in agent " << copy.agent << "'s map\n"
        << c.Logs();
    const absl::Duration overstay = *copy.gone - copy.due;
    std::cout << "agent " << copy.agent << " " << copy.key << ": overstay "
              << absl::FormatDuration(overstay) << "\n";
    EXPECT_GE(overstay, absl::ZeroDuration()) << "not before its time";
    EXPECT_LE(overstay, absl::Seconds(1)) << copy.key << " on " << copy.agent;
  }

  // Restarted during the outage, agent 1 replays its spool: the expired
  // login is still unacknowledged there, and still not in the map.
  c.StopAgent(1, SIGKILL);
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  EXPECT_FALSE(c.Lookup(1, "203.0.113.31").has_value());
  EXPECT_FALSE(c.Lookup(1, "203.0.113.30").has_value());

  ASSERT_TRUE(c.StartCoordinator()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "203.0.113.32"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("203.0.113.32"); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(c.AllHave("203.0.113.30", false));
  EXPECT_TRUE(c.AllHave("203.0.113.31", false));
  std::string out;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &out), 0);
  EXPECT_THAT(out, Not(HasSubstr("203.0.113.31\t"))) << "sent late, dropped";
  EXPECT_THAT(out, Not(HasSubstr("203.0.113.30\t")));
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return c.Logs().find(
                   "expired 1 entry locally while no coordinator "
                   "was reachable") != std::string::npos;
      },
      absl::Seconds(5)))
      << c.Logs();
}

TEST(ClusterTest, KilledAgentCatchesUpAfterRestart) {
  Cluster c(3);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "10.9.0.1"}), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("10.9.0.1"); }, kPropagation));
  c.StopAgent(2, SIGKILL);
  ASSERT_EQ(c.Notify(0, "10.9.0.2"), 0);
  ASSERT_EQ(c.Vsmtprelay({"delete", "10.9.0.1"}), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] {
        return c.Lookup(1, "10.9.0.2").has_value() &&
               !c.Lookup(1, "10.9.0.1").has_value();
      },
      kPropagation));
  EXPECT_TRUE(c.Lookup(2, "10.9.0.1").has_value()) << "agent 2 is down";
  ASSERT_TRUE(c.StartAgent(2)) << c.Logs();
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return c.Lookup(2, "10.9.0.2").has_value() &&
               !c.Lookup(2, "10.9.0.1").has_value();
      },
      kPropagation))
      << c.Logs();
}

// The agent writes its map without waiting for the disk, so after a reboot
// its saved version is no proof of what the map holds. Simulated here: an
// entry vanishes from the stopped agent's map (a write the crash lost).
// Restarted in the same boot, the agent resumes with deltas and cannot know;
// restarted with another boot id in its state file, it takes a snapshot and
// the entry comes back.
TEST(ClusterTest, AgentResynchronizesItsMapAfterAReboot) {
  Cluster c(2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "10.9.1.1"}), 0);
  ASSERT_EQ(c.Vsmtprelay({"add", "10.9.1.2"}), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.AllHave("10.9.1.1") && c.AllHave("10.9.1.2"); },
      kPropagation))
      << c.Logs();
  const std::string state_path = c.dir() + "/spool-1/agent.state";
  auto lose_entry_while_stopped = [&](const std::string& boot_id) {
    c.StopAgent(1, SIGTERM);  // saves agent.state
    auto map = RelayersDb::Open(c.Db(1), RelayersDb::Mode::kReadWrite);
    ASSERT_TRUE(map.ok()) << map.status();
    MapBatch lost;
    lost.Delete("10.9.1.2");
    ASSERT_TRUE((*map)->Apply(lost).ok());
    if (boot_id.empty()) return;
    std::string state = testing::ReadFile(state_path);
    const size_t at = state.find("boot_id ");
    ASSERT_NE(at, std::string::npos) << state;
    testing::WriteFile(state_path,
                       state.substr(0, at) + "boot_id " + boot_id + "\n");
  };

  // Same boot: deltas only, the lost entry stays lost.
  lose_entry_while_stopped("");
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "10.9.1.3"}), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("10.9.1.3"); }, kPropagation))
      << c.Logs();
  EXPECT_FALSE(c.Lookup(1, "10.9.1.2").has_value());

  // Another boot: a snapshot puts it back.
  lose_entry_while_stopped("00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "10.9.1.2").has_value(); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(c.Lookup(1, "10.9.1.1").has_value());
  EXPECT_TRUE(c.Lookup(1, "10.9.1.3").has_value());

  // A damaged state file: the agent starts all the same, from a snapshot.
  lose_entry_while_stopped("");
  testing::WriteFile(state_path, "relaysync-agent-state v1\nstore_ep");
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "10.9.1.2").has_value(); }, kPropagation))
      << c.Logs();
}

TEST(ClusterTest, KilledCoordinatorLosesNoAcknowledgedLogin) {
  Cluster c(3);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  constexpr int kLogins = 50;
  for (int i = 0; i < kLogins; ++i) {
    ASSERT_EQ(c.Notify(i % 3, absl::StrCat("172.20.0.", i + 1)), 0);
  }
  // Present everywhere means merged (and acknowledged) by the coordinator.
  ASSERT_TRUE(WaitForCondition(
      [&] {
        for (int i = 0; i < kLogins; ++i) {
          if (!c.AllHave(absl::StrCat("172.20.0.", i + 1))) return false;
        }
        return true;
      },
      kPropagation))
      << c.Logs();
  c.StopCoordinator(SIGKILL);
  ASSERT_TRUE(c.StartCoordinator()) << c.Logs();
  std::string out;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &out), 0);
  for (int i = 0; i < kLogins; ++i) {
    EXPECT_THAT(out, HasSubstr(absl::StrCat("172.20.0.", i + 1, "\t")));
  }
  // The agents reconnect and keep converging.
  ASSERT_EQ(c.Notify(1, "172.20.1.1"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("172.20.1.1"); }, kPropagation))
      << c.Logs();
}

TEST(ClusterTest, LoginsWhileCoordinatorIsDownArriveWhenItReturns) {
  Cluster c(3);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  c.StopCoordinator(SIGKILL);
  ASSERT_EQ(c.Notify(0, "100.64.0.1"), 0);
  // Local first: the host that saw the login relays at once.
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(0, "100.64.0.1").has_value(); }, absl::Seconds(2)));
  EXPECT_FALSE(c.Lookup(1, "100.64.0.1").has_value());
  // The agent is restarted too while the coordinator is still down: its
  // spool carries the login across the restart.
  c.StopAgent(0, SIGKILL);
  ASSERT_TRUE(c.StartAgent(0)) << c.Logs();
  EXPECT_TRUE(c.Lookup(0, "100.64.0.1").has_value());
  ASSERT_TRUE(c.StartCoordinator()) << c.Logs();
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("100.64.0.1"); }, kPropagation))
      << c.Logs();
}

TEST(ClusterTest, AgentsRefillAStoreThatCameBackEmpty) {
  Cluster c(3);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(c.Notify(i % 3, absl::StrCat("198.18.0.", i + 1)), 0);
  }
  auto all_present = [&] {
    for (int i = 0; i < 12; ++i) {
      if (!c.AllHave(absl::StrCat("198.18.0.", i + 1))) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitForCondition(all_present, kPropagation)) << c.Logs();
  c.StopCoordinator(SIGKILL);
  c.WipeCoordinatorData();  // a lost disk, or a store replaced by an empty one
  ASSERT_TRUE(c.StartCoordinator()) << c.Logs();
  // The new store (new epoch) is refilled from the agents' maps...
  EXPECT_TRUE(WaitForCondition(
      [&] {
        std::string out;
        if (c.Vsmtprelay({"dump"}, &out) != 0) return false;
        for (int i = 0; i < 12; ++i) {
          if (out.find(absl::StrCat("198.18.0.", i + 1, "\t")) ==
              std::string::npos) {
            return false;
          }
        }
        return true;
      },
      kPropagation))
      << c.Logs();
  // ...and no map lost an entry on the way.
  EXPECT_TRUE(all_present());
}

}  // namespace
}  // namespace relaysync
