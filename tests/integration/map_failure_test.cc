// A relay map that stops being a Berkeley DB while the agent runs: the
// agent keeps its stream, backs off, says what to do, and rebuilds the map
// once the file is moved away (issue "local errors back off").
#include <stdio.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/wait.h"
#include "tests/integration/cluster.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(15);
// The agent retries the map at least every 30 s (jittered): a rebuild is
// due within that after the file is moved away.
constexpr absl::Duration kRebuild = absl::Seconds(45);

// Lines of `text` after its first `from` bytes.
int LinesAfter(const std::string& text, size_t from) {
  int n = 0;
  for (size_t i = from; i < text.size(); ++i) n += text[i] == '\n';
  return n;
}

TEST(MapFailureTest, AMapThatIsNotABerkeleyDbBacksOffAndIsRebuiltOnceMoved) {
  Cluster c(2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.1"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.1"); }, kPropagation))
      << c.Logs();

  // Replaced by something that is not a map (a restore gone wrong).
  const std::string db = c.Db(1);
  testing::WriteFile(db + ".new", std::string(16384, 'x'));
  ASSERT_EQ(rename((db + ".new").c_str(), db.c_str()), 0);
  const std::string coordinator_log = c.dir() + "/coordinator-0.log";
  const std::string agent_log = c.dir() + "/agent-1.log";
  const size_t coordinator_from = ReadFile(coordinator_log).size();
  const size_t agent_from = ReadFile(agent_log).size();
  // A change for agent 1 to write.
  ASSERT_EQ(c.Notify(0, "192.0.2.2"), 0);
  absl::SleepFor(absl::Seconds(5));
  const std::string coordinator = ReadFile(coordinator_log);
  const std::string agent = ReadFile(agent_log);
  const int reconnects = testing::CountOccurrences(
      coordinator, "agent agent1 connected from", coordinator_from);
  const int lines = LinesAfter(agent, agent_from);
  std::cout << "over 5 s with a broken map: " << reconnects << " reconnect(s), "
            << lines << " agent log line(s)\n";
  EXPECT_LE(reconnects, 3) << agent.substr(agent_from, 4000);
  EXPECT_LE(lines, 10) << agent.substr(agent_from, 4000);
  EXPECT_THAT(agent.substr(agent_from),
              HasSubstr("not a Berkeley DB hash file: move it away"));
  EXPECT_THAT(agent.substr(agent_from), HasSubstr("retries with backoff"));
  EXPECT_EQ(c.Lookup(0, "192.0.2.2").has_value(), true)
      << "the other agent is unaffected";

  // The operator moves it away: the map is rebuilt whole, and later
  // changes reach it too.
  ASSERT_EQ(unlink(db.c_str()), 0);
  ASSERT_EQ(c.Notify(0, "192.0.2.3"), 0);
  const absl::Time moved = absl::Now();
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return c.Lookup(1, "192.0.2.1") && c.Lookup(1, "192.0.2.2") &&
               c.Lookup(1, "192.0.2.3");
      },
      kRebuild))
      << c.Logs();
  std::cout << "rebuilt " << absl::Now() - moved << " after the move\n";
  EXPECT_THAT(ReadFile(agent_log), HasSubstr("writable again"));
  // A login on the repaired agent reaches the other one.
  ASSERT_EQ(c.Notify(1, "192.0.2.4"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.4"); }, kPropagation))
      << c.Logs();
}

}  // namespace
}  // namespace relaysync
