// The Agent as composed by agent.cc with several maps (--db and --output):
// a login reaches each in its kind's key spelling, and a map that cannot
// be written does not hold back the others.
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/local_login.h"
#include "agent/notify_client.h"
#include "backends/map/map_kind.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/free_port.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using Entries = std::map<std::string, std::string>;

class AgentOutputsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Agent> StartAgent() {
    AgentOptions options;
    // A loopback port nobody listens on: the coordinator stays unreachable.
    options.coordinators = {
        absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort())};
    options.host_id = "mx1";
    options.tls.insecure = true;
    options.db_path = dir_.File("relayers.db");
    options.outputs = {{MapKind::kPostfixHash, dir_.File("postfix.db")},
                       {MapKind::kEximDbm, dir_.File("exim.db")},
                       {MapKind::kText, dir_.File("relayers.txt")}};
    options.map_retry_min = absl::Milliseconds(10);
    options.map_retry_max = absl::Milliseconds(50);
    options.spool_dir = dir_.File("spool");
    options.notify_socket = dir_.File("notify.sock");
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

  // What the `kind` map at `file` holds (key as stored -> value); empty if
  // it cannot be read.
  Entries Read(MapKind kind, const std::string& file) {
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(kind, dir_.File(file), RelayersDb::Mode::kReadOnly, {});
    if (!map.ok()) return {};
    absl::StatusOr<std::vector<MapEntry>> all = (*map)->ReadAll();
    Entries out;
    if (all.ok()) {
      for (const MapEntry& e : *all) out[e.key] = e.value;
    }
    return out;
  }

  testing::ScratchDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(2000000000)};
};

TEST_F(AgentOutputsTest, ALoginReachesEveryMapInItsKindsSpelling) {
  std::unique_ptr<Agent> agent = StartAgent();
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(Notify("fd00:db8::5").ok());
  ASSERT_TRUE(Notify("192.0.2.7").ok());
  ASSERT_TRUE(testing::WaitForCondition(
      [&] { return Read(MapKind::kText, "relayers.txt").size() == 2; },
      absl::Seconds(10)));
  const std::string t = "2000000000";
  EXPECT_EQ(Read(MapKind::kSendmail, "relayers.db"),
            (Entries{{"192.0.2.7", t}, {"ipv6:fd00:db8:0:0:0:0:0:5", t}}));
  EXPECT_EQ(Read(MapKind::kPostfixHash, "postfix.db"),
            (Entries{{"192.0.2.7", t}, {"fd00:db8::5", t}}));
  EXPECT_EQ(Read(MapKind::kEximDbm, "exim.db"),
            (Entries{{"192.0.2.7", t},
                     {"fd00.0db8.0000.0000.0000.0000.0000.0005", t}}));
  EXPECT_EQ(Read(MapKind::kText, "relayers.txt"),
            (Entries{{"192.0.2.7", t}, {"fd00:db8::5", t}}));
}

TEST_F(AgentOutputsTest, ABrokenMapDoesNotHoldBackTheOthersAndIsRebuilt) {
  std::unique_ptr<Agent> agent = StartAgent();
  ASSERT_NE(agent, nullptr);
  // Someone puts a file that is not a Berkeley DB where Postfix's map was.
  ASSERT_EQ(unlink(dir_.File("postfix.db").c_str()), 0);
  testing::WriteFile(dir_.File("postfix.db"), "not a map\n");
  ASSERT_TRUE(Notify("192.0.2.7").ok());
  ASSERT_TRUE(testing::WaitForCondition(
      [&] { return Read(MapKind::kText, "relayers.txt").size() == 1; },
      absl::Seconds(10)));
  EXPECT_EQ(Read(MapKind::kSendmail, "relayers.db").size(), 1u);
  EXPECT_EQ(Read(MapKind::kEximDbm, "exim.db").size(), 1u);
  EXPECT_EQ(testing::ReadFile(dir_.File("postfix.db")), "not a map\n");

  // Moved away, it is rebuilt whole from what the others hold.
  ASSERT_EQ(unlink(dir_.File("postfix.db").c_str()), 0);
  ASSERT_TRUE(testing::WaitForCondition(
      [&] {
        return Read(MapKind::kPostfixHash, "postfix.db") ==
               Entries{{"192.0.2.7", "2000000000"}};
      },
      absl::Seconds(10)));
}

}  // namespace
}  // namespace relaysync
