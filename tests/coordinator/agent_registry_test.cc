// AgentRegistry: connected agents, and the bounded record of those gone.
#include "coordinator/agent_registry.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

constexpr int64_t kStart = 2000000000;

class AgentRegistryTest : public ::testing::Test {
 protected:
  int Add(AgentRegistry& r, const std::string& host) {
    return r.Add(
        AgentInfo{host, "ipv4:192.0.2.1:5000", 7, clock_.NowSeconds()});
  }
  FakeClock clock_{absl::FromUnixSeconds(kStart)};
};

TEST_F(AgentRegistryTest, LastSeenMovesWithEachMessage) {
  AgentRegistry r(&clock_);
  const int h = Add(r, "mx1");
  clock_.Advance(absl::Seconds(10));
  r.Seen(h);
  ASSERT_EQ(r.List().size(), 1u);
  EXPECT_EQ(r.List()[0].last_seen, kStart + 10);
  clock_.Advance(absl::Seconds(5));
  r.SetApplied(h, 42);
  EXPECT_EQ(r.List()[0].last_seen, kStart + 15);
  EXPECT_EQ(r.List()[0].applied_version, 42u);
  EXPECT_TRUE(r.List()[0].connected);
}

TEST_F(AgentRegistryTest, AStoppedAgentStaysAsDisconnectedWithItsLastSeen) {
  AgentRegistry r(&clock_);
  const int h = Add(r, "mx1");
  r.SetApplied(h, 40);
  clock_.Advance(absl::Seconds(30));
  r.Remove(h);
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(r.List().empty());  // the metrics count connected ones only
  std::vector<AgentInfo> all = r.ListWithGone();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].host_id, "mx1");
  EXPECT_FALSE(all[0].connected);
  EXPECT_EQ(all[0].last_seen, kStart + 30);
  EXPECT_EQ(all[0].applied_version, 40u);
}

TEST_F(AgentRegistryTest, ReconnectingReplacesTheGoneRecord) {
  AgentRegistry r(&clock_);
  r.Remove(Add(r, "mx1"));
  clock_.Advance(absl::Seconds(1));
  Add(r, "mx1");
  std::vector<AgentInfo> all = r.ListWithGone();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].connected);
}

TEST_F(AgentRegistryTest, AnOldStreamEndingBesideANewOneIsNotListedAsGone) {
  AgentRegistry r(&clock_);
  const int old_stream = Add(r, "mx1");
  Add(r, "mx1");  // reconnected before the old stream ended
  r.Remove(old_stream);
  std::vector<AgentInfo> all = r.ListWithGone();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].connected);
}

TEST_F(AgentRegistryTest, GoneAgentsAreForgottenAfterADay) {
  AgentRegistry r(&clock_);
  r.Remove(Add(r, "mx1"));
  clock_.Advance(absl::Hours(23));
  EXPECT_EQ(r.ListWithGone().size(), 1u);
  clock_.Advance(absl::Hours(1) + absl::Seconds(1));
  EXPECT_TRUE(r.ListWithGone().empty());
}

TEST_F(AgentRegistryTest, GoneAgentsAreBoundedInNumberKeepingTheLatest) {
  GoneAgentLimits limits;
  limits.max_agents = 3;
  AgentRegistry r(&clock_, limits);
  // As many host ids as a caller cares to invent (--insecure): the record
  // stays at the bound.
  for (int i = 0; i < 1000; ++i) {
    r.Remove(Add(r, absl::StrCat("host", i)));
    clock_.Advance(absl::Seconds(1));
  }
  std::vector<AgentInfo> all = r.ListWithGone();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].host_id, "host999");  // most recently gone first
  EXPECT_EQ(all[1].host_id, "host998");
  EXPECT_EQ(all[2].host_id, "host997");
}

TEST_F(AgentRegistryTest, ConnectedAgentsComeFirst) {
  AgentRegistry r(&clock_);
  r.Remove(Add(r, "gone"));
  Add(r, "here");
  std::vector<AgentInfo> all = r.ListWithGone();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].host_id, "here");
  EXPECT_EQ(all[1].host_id, "gone");
}

}  // namespace
}  // namespace relaysync
