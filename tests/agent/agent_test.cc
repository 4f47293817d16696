// The Agent as composed by agent.cc, in-process: a notify socket feeding a
// real relayers.db, with no coordinator reachable (local logins must reach
// the map at once, before any coordinator answers).
#include "agent/agent.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/local_login.h"
#include "agent/notify_client.h"
#include "agent/spool.h"
#include "backends/map/relayers_db.h"
#include "gtest/gtest.h"
#include "testing/free_port.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

class AgentTest : public ::testing::Test {
 protected:
  std::unique_ptr<Agent> StartAgent(const std::string& never_relay) {
    AgentOptions options;
    // A loopback port nobody listens on: the coordinator stays unreachable.
    options.coordinators = {
        absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort())};
    options.host_id = "mx1";
    options.tls.insecure = true;
    options.db_path = dir_.File("relayers.db");
    options.spool_dir = dir_.File("spool");
    options.notify_socket = dir_.File("notify.sock");
    absl::StatusOr<NeverRelay> rule =
        NeverRelay::WithExtra(never_relay, "--never-relay");
    EXPECT_TRUE(rule.ok()) << rule.status();
    if (rule.ok()) options.never_relay = *rule;
    absl::StatusOr<std::unique_ptr<Agent>> agent =
        Agent::Start(options, &clock_);
    EXPECT_TRUE(agent.ok()) << agent.status();
    return agent.ok() ? std::move(*agent) : nullptr;
  }

  absl::Status Notify(const std::string& address) {
    LocalLogin login;
    login.address = address;
    login.user = "alice";
    login.source = "test";
    return SendNotify(dir_.File("notify.sock"), login, absl::Seconds(1));
  }

  // The map's value for `key`, or "" if absent.
  std::string MapValue(const std::string& key) {
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(dir_.File("relayers.db"), RelayersDb::Mode::kReadOnly);
    if (!db.ok()) return "";
    absl::StatusOr<std::string> value = (*db)->Get(key);
    return value.ok() ? *value : "";
  }

  testing::ScratchDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(2000000000)};
};

TEST_F(AgentTest, ANotifyForAMulticastAddressNeverReachesTheMap) {
  std::unique_ptr<Agent> agent = StartAgent("");
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(Notify("224.0.0.1").ok());
  ASSERT_TRUE(Notify("0.0.0.0").ok());
  ASSERT_TRUE(Notify("192.0.2.7").ok());  // sent last: once it is in, the
                                          // others were handled
  ASSERT_TRUE(testing::WaitForCondition(
      [&] { return !MapValue("192.0.2.7").empty(); }, absl::Seconds(10)));
  EXPECT_EQ(MapValue("192.0.2.7"), "2000000000");
  EXPECT_EQ(MapValue("224.0.0.1"), "");
  EXPECT_EQ(MapValue("0.0.0.0"), "");
}

TEST_F(AgentTest, ANotifyInANeverRelayRangeNeverReachesTheMap) {
  std::unique_ptr<Agent> agent = StartAgent("192.0.2.0/28");
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(Notify("192.0.2.9").ok());
  ASSERT_TRUE(Notify("192.0.2.17").ok());
  ASSERT_TRUE(testing::WaitForCondition(
      [&] { return !MapValue("192.0.2.17").empty(); }, absl::Seconds(10)));
  EXPECT_EQ(MapValue("192.0.2.9"), "");
}

TEST_F(AgentTest, ARefusedLoginIsNotSpooledForTheCoordinator) {
  {
    std::unique_ptr<Agent> agent = StartAgent("");
    ASSERT_NE(agent, nullptr);
    ASSERT_TRUE(Notify("ff02::1").ok());
    ASSERT_TRUE(Notify("192.0.2.7").ok());
    ASSERT_TRUE(testing::WaitForCondition(
        [&] { return !MapValue("192.0.2.7").empty(); }, absl::Seconds(10)));
  }
  // The spool holds only the granted login: a restart finds one pending.
  absl::StatusOr<std::unique_ptr<Spool>> spool =
      Spool::Open(dir_.File("spool"), "mx1");
  ASSERT_TRUE(spool.ok()) << spool.status();
  ASSERT_EQ((*spool)->Pending().size(), 1u);
  EXPECT_EQ((*spool)->Pending()[0].login.address, "192.0.2.7");
}

}  // namespace
}  // namespace relaysync
