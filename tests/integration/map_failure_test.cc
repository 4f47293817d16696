// A relay map that stops being a Berkeley DB while the agent runs: the
// agent keeps its stream, backs off, says what to do, and rebuilds the map
// once the file is moved away (issue "local errors back off").
#include <grpcpp/grpcpp.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/wait.h"

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

// Starts the cluster, has 192.0.2.1 reach every map, then replaces agent
// 1's map by something that is not a map (a restore gone wrong).
void StartAndBreakMapOne(Cluster& c) {
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.1"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.1"); }, kPropagation))
      << c.Logs();
  const std::string db = c.Db(1);
  testing::WriteFile(db + ".new", std::string(16384, 'x'));
  ASSERT_EQ(rename((db + ".new").c_str(), db.c_str()), 0);
}

TEST(MapFailureTest, AMapThatIsNotABerkeleyDbBacksOffAndIsRebuiltOnceMoved) {
  Cluster c(2);
  ASSERT_NO_FATAL_FAILURE(StartAndBreakMapOne(c));
  const std::string db = c.Db(1);
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

// Long (IPv6, no zero group) so that the deltas fill the transport's
// buffers soon.
std::string FloodAddress(int64_t i) {
  return absl::StrCat(
      "2001:db8:aaaa:bbbb:cccc:dddd:", absl::Hex(0x1000 + (i >> 12)), ":",
      absl::Hex(0x1000 + (i & 0xfff)));
}

// Sends `events` new logins as host "flooder" (insecure coordinator), in
// batches of 1,000, reading the acknowledgements; returns how many were
// acknowledged within a minute.
int64_t Flood(const std::string& target, int64_t events) {
  auto stub = v1::RelaySync::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->Sync(&ctx);
  std::atomic<int64_t> acked{0};
  std::thread reader([&] {
    v1::CoordinatorMessage m;
    while (acked < events && stream->Read(&m)) {
      if (m.has_ack()) acked += m.ack().event_ids_size();
    }
  });
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id("flooder");
  bool ok = stream->Write(hello);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  for (int64_t n = 0; ok && n < events; n += 1000) {
    v1::AgentMessage batch;
    for (int64_t i = n; i < n + 1000 && i < events; ++i) {
      v1::LoginEvent* e = batch.mutable_logins()->add_events();
      e->set_event_id(absl::StrCat("flooder/", i));
      e->set_address(FloodAddress(i));
      e->set_login_time(now);
      e->set_user("u");
    }
    ok = stream->Write(batch);
  }
  reader.join();
  ctx.TryCancel();
  stream->Finish();
  return acked;
}

TEST(MapFailureTest, ABrokenMapStopsTheAgentReadingInsteadOfQueueingAll) {
  // 300,000 changes for an agent that cannot write its map: it reads
  // --max-queued-changes of them and stops, and the coordinator ends the
  // stalled stream, rather than the agent queueing every change the
  // cluster makes for as long as the map stays broken. (A low bound here:
  // with the default, the transport's own buffers hold the rest of this
  // many.)
  constexpr int64_t kEvents = 300000;
  Cluster c(2, {"--stall-timeout=3s", "--agent-login-rate=0"});
  c.UseInsecure();
  c.AddAgentFlags(1, {"--max-queued-changes=1000"});
  ASSERT_NO_FATAL_FAILURE(StartAndBreakMapOne(c));
  const std::string db = c.Db(1);

  ASSERT_EQ(Flood(c.target(), kEvents), kEvents);
  const std::string last = "ipv6:" + FloodAddress(kEvents - 1);  // map key
  EXPECT_TRUE(WaitForCondition([&] { return c.Lookup(0, last).has_value(); },
                               absl::Seconds(60)))
      << "the healthy agent";
  const std::string coordinator_log = c.dir() + "/coordinator-0.log";
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return absl::StrContains(ReadFile(coordinator_log),
                                 "stalled, no message taken for 3s");
      },
      absl::Seconds(30)))
      << ReadFile(coordinator_log);
  // Memory: the queue held back (300,000 queued changes took 50 MB).
  const int64_t hwm_kb = testing::ProcStatusKib(c.agent_pid(1), "VmHWM");
  std::cout << "agent with the broken map: VmHWM " << hwm_kb << " kB\n";
  EXPECT_GT(hwm_kb, 0);
  EXPECT_LT(hwm_kb, 40 * 1024);

  // Moved away: the map is rebuilt, and every change reaches it.
  ASSERT_EQ(unlink(db.c_str()), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.Lookup(1, last).has_value(); }, kRebuild))
      << c.Logs();
}

}  // namespace
}  // namespace relaysync
