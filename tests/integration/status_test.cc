// Operations checks against real processes on loopback: `vsmtprelay status`
// with a coordinator and real agents (lag, last seen, a stopped agent, the
// behind mark and exit status), and `relaysync-agent check-config` run with
// an agent's own flags.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using testing::CountOccurrences;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(15);

// `vsmtprelay status` as a reader, until `done` holds for its output.
bool StatusUntil(Cluster& c, const std::vector<std::string>& flags,
                 const std::function<bool(int, const std::string&)>& done,
                 std::string* out) {
  return WaitForCondition(
      [&] {
        out->clear();
        std::vector<std::string> args = c.ClientTlsFlags("reader-monitor");
        args.push_back("status");
        args.insert(args.end(), flags.begin(), flags.end());
        return done(c.Vsmtprelay(args, out), *out);
      },
      kPropagation, absl::Milliseconds(100));
}

TEST(StatusTest, ShowsLagAndLastSeenAndMarksAgentsThatFallBehind) {
  Cluster c(2, {"--expire-after=0"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Vsmtprelay({"add", "198.51.100.1"}), 0);
  std::string out;
  // Both applied it, and reported so (every 200 ms at most).
  ASSERT_TRUE(StatusUntil(
      c, {},
      [](int code, const std::string& s) {
        return code == 0 && CountOccurrences(s, "\tconnected\tlag 0\t") == 2;
      },
      &out))
      << out << c.Logs();
  EXPECT_THAT(out, HasSubstr("agents connected: 2 (to this coordinator"));
  EXPECT_THAT(out, HasSubstr("  agent0\tconnected\tlag 0\t"));
  EXPECT_THAT(out, HasSubstr("  agent1\tconnected\tlag 0\t"));
  EXPECT_THAT(out, HasSubstr("\tlast seen "));

  c.StopAgent(1, SIGTERM);
  for (const char* ip : {"198.51.100.2", "198.51.100.3", "198.51.100.4"}) {
    ASSERT_EQ(c.Vsmtprelay({"add", ip}), 0);
  }
  // Gone for less than --max-silence and within --max-lag: listed, with
  // its lag, not marked.
  ASSERT_TRUE(StatusUntil(
      c, {"--max-silence=1h"},
      [](int code, const std::string& s) {
        return code == 0 && CountOccurrences(s, "agent0\tconnected\tlag 0\t");
      },
      &out))
      << out << c.Logs();
  EXPECT_THAT(out, HasSubstr("agents connected: 1 "));
  EXPECT_THAT(out, HasSubstr("agents disconnected (last 24 h): 1\n"));
  EXPECT_THAT(out, HasSubstr("  agent1\tdisconnected\tlag 3\t"));
  // Over --max-lag: marked, and the exit status says so.
  EXPECT_EQ(c.Vsmtprelay({"status", "--max-silence=1h", "--max-lag=2"}, &out),
            3)
      << out;
  EXPECT_THAT(out, HasSubstr("* agent1\tBEHIND\tlag 3\t"));
  EXPECT_THAT(out, HasSubstr("agents behind (lag over 2 versions"));
  // Gone longer than --max-silence.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(c.Vsmtprelay({"status", "--max-silence=1s"}, &out), 3) << out;
  EXPECT_THAT(out, HasSubstr("* agent1\tDISCONNECTED\tlag 3\tapplied version"));
  EXPECT_THAT(out, HasSubstr("s ago\t"));
  EXPECT_THAT(out, HasSubstr("  agent0\tconnected\tlag 0\t"));

  // Back and caught up: nothing marked.
  ASSERT_TRUE(c.StartAgent(1)) << c.Logs();
  EXPECT_TRUE(StatusUntil(
      c, {"--max-silence=1s", "--max-lag=0"},
      [](int code, const std::string&) { return code == 0; }, &out))
      << out << c.Logs();
  EXPECT_THAT(out, HasSubstr("  agent1\tconnected\tlag 0\t"));
}

std::vector<std::string> AgentFlags(const Cluster& c) {
  return {RELAYSYNC_AGENT_BIN,
          "check-config",
          "--coordinator=" + c.target(),
          "--host-id=agent0",
          "--db=" + c.Db(0),
          "--spool-dir=" + c.dir() + "/spool-0",
          "--notify-socket=" + c.Socket(0),
          "--tls-ca=" + c.Tls("ca.pem"),
          "--tls-cert=" + c.Tls("agent-agent0.pem"),
          "--tls-key=" + c.Tls("agent-agent0.key")};
}

TEST(CheckConfigBinaryTest, RunsWithTheAgentsOwnFlags) {
  Cluster c(1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> argv = AgentFlags(c);
  std::string out;
  // The cluster lives under /var/tmp (mode 1777): sendmail would refuse a
  // map there, so the check fails, and says why.
  EXPECT_EQ(RunCommand(argv, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("FAIL: map sendmail:" + c.Db(0) +
                             ": group- or world-writable directory on its "
                             "path: /var/tmp (mode 1777)"));
  EXPECT_THAT(out, HasSubstr("ok: --tls-cert " + c.Tls("agent-agent0.pem") +
                             ": identity spiffe://relaysync/agent/agent0"));
  EXPECT_THAT(out, HasSubstr("ok: coordinator " + c.target() +
                             " answers over mutual TLS"));
  EXPECT_THAT(out, HasSubstr("ok: --notify-socket " + c.Socket(0)));

  // The same map for Postfix: a warning only.
  argv.push_back("--output=postfix-hash:" + c.Db(0));
  argv.push_back("--mta-user=root");
  argv.erase(argv.begin() + 4);  // --db
  EXPECT_EQ(RunCommand(argv, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("warn: map postfix-hash:" + c.Db(0)));

  c.StopCoordinator(SIGTERM);
  EXPECT_EQ(RunCommand(argv, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("FAIL: coordinator " + c.target() +
                             ": unreachable: Connection refused"));
}

}  // namespace
}  // namespace relaysync
