// The agents part of `vsmtprelay status`: lag, last seen, the marks.
#include "cli/agent_status.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 2000000000;

v1::AgentStatus* Agent(v1::StatusResponse* s, const std::string& host,
                       uint64_t applied, int64_t last_seen,
                       bool disconnected = false) {
  v1::AgentStatus* a = s->add_agents();
  a->set_host_id(host);
  a->set_peer("ipv4:192.0.2.1:4000");
  a->set_applied_version(applied);
  a->set_connected_since(kNow - 3600);
  a->set_last_seen(last_seen);
  a->set_disconnected(disconnected);
  return a;
}

TEST(AgentStatusTest, ShowsEachAgentsLagAndLastSeen) {
  v1::StatusResponse s;
  s.set_version(5000);
  s.set_now(kNow);
  Agent(&s, "mx1", 5000, kNow - 3);
  Agent(&s, "mx2", 4990, kNow - 300, /*disconnected=*/true);
  std::string out;
  EXPECT_EQ(DescribeAgents(s, 0, AgentLimits{1000, absl::Hours(1)}, &out), 0);
  EXPECT_THAT(out, HasSubstr("agents connected: 1 (to this coordinator"));
  EXPECT_THAT(out, HasSubstr("agents disconnected (last 24 h): 1\n"));
  EXPECT_THAT(out, HasSubstr("  mx1\tconnected\tlag 0\tapplied version 5000"
                             "\tlast seen 3s ago\t"));
  EXPECT_THAT(out, HasSubstr("  mx2\tdisconnected\tlag 10\tapplied version "
                             "4990\tlast seen 5m ago\t"));
  EXPECT_THAT(out, Not(HasSubstr("* ")));
}

TEST(AgentStatusTest, MarksAnAgentOverTheLagLimit) {
  v1::StatusResponse s;
  s.set_version(5000);
  s.set_now(kNow);
  Agent(&s, "mx1", 3999, kNow);
  Agent(&s, "mx2", 4000, kNow);
  std::string out;
  EXPECT_EQ(DescribeAgents(s, 0, AgentLimits{1000, absl::Seconds(60)}, &out),
            1);
  EXPECT_THAT(out, HasSubstr("* mx1\tBEHIND\tlag 1001\t"));
  EXPECT_THAT(out, HasSubstr("  mx2\tconnected\tlag 1000\t"));
  EXPECT_THAT(out, HasSubstr("agents behind (lag over 1000 versions, or "
                             "disconnected over 1m): 1\n"));
}

TEST(AgentStatusTest, MarksAnAgentGoneLongerThanTheSilenceLimit) {
  v1::StatusResponse s;
  s.set_version(10);
  s.set_now(kNow);
  Agent(&s, "mx1", 10, kNow - 61, true);
  Agent(&s, "mx2", 10, kNow - 60, true);
  // A connected agent is alive whatever its last message: an idle one
  // sends none.
  Agent(&s, "mx3", 10, kNow - 86400);
  std::string out;
  EXPECT_EQ(DescribeAgents(s, 0, AgentLimits{1000, absl::Seconds(60)}, &out),
            1);
  EXPECT_THAT(out, HasSubstr("* mx1\tDISCONNECTED\tlag 0\t"));
  EXPECT_THAT(out, HasSubstr("  mx2\tdisconnected\t"));
  EXPECT_THAT(out, HasSubstr("  mx3\tconnected\t"));
}

TEST(AgentStatusTest, AnAgentAheadOfThisStoreHasNoLag) {
  v1::StatusResponse s;
  s.set_version(10);
  Agent(&s, "mx1", 12, kNow);
  std::string out;
  // No `now` from an older coordinator: the caller's clock.
  EXPECT_EQ(DescribeAgents(s, kNow + 2, AgentLimits{}, &out), 0);
  EXPECT_THAT(out, HasSubstr("  mx1\tconnected\tlag 0\t"));
  EXPECT_THAT(out, HasSubstr("last seen 2s ago"));
}

}  // namespace
}  // namespace relaysync
