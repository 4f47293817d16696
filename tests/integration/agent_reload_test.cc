// SIGHUP in a running agent: it reconnects at once, presenting the TLS
// certificate now on disk (a stream otherwise keeps the one it started
// with), logs one line saying so, and goes on working.
#include <signal.h>

#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using testing::CountOccurrences;
using testing::ReadFile;
using testing::RunShell;
using testing::WaitForCondition;

constexpr char kConnected[] = "agent agent0 connected from";
constexpr char kRefused[] = "refused TLS handshake";

int Connections(const Cluster& c) {
  return CountOccurrences(ReadFile(c.dir() + "/coordinator-0.log"), kConnected);
}

bool CoordinatorHas(Cluster& c, const std::string& ip) {
  std::string out;
  return c.Vsmtprelay({"dump"}, &out) == 0 && absl::StrContains(out, ip);
}

// Moves `from`.pem and .key over `to`.pem and .key.
void ReplaceCertificate(const std::string& from, const std::string& to) {
  for (const char* ext : {".pem", ".key"}) {
    ASSERT_EQ(RunShell(absl::StrCat("cp -p ", from, ext, " ", to, ext,
                                    ".tmp && mv ", to, ext, ".tmp ", to, ext))
                  .exit_code,
              0);
  }
}

TEST(AgentReloadTest, SighupReconnectsAtOnceWithTheCertificateNowOnDisk) {
  Cluster c(1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_TRUE(
      WaitForCondition([&] { return Connections(c) == 1; }, absl::Seconds(15)))
      << c.Logs();
  const std::string agent_cert = c.Tls("agent-agent0");
  const std::string saved = c.dir() + "/saved-agent0";
  ReplaceCertificate(agent_cert, saved);
  // The same host id, from a CA the coordinator does not trust: once the
  // agent presents it, the coordinator refuses the handshake.
  const std::string ca2 = c.dir() + "/ca2";
  ASSERT_EQ(RunShell(absl::StrCat(RELAYSYNC_MAKE_CERTS, " --agent=agent0 ", ca2,
                                  " >/dev/null"))
                .exit_code,
            0);
  ReplaceCertificate(ca2 + "/agent-agent0", agent_cert);

  // Without a SIGHUP the stream keeps its certificate, well past gRPC's
  // 5 s re-read of the files.
  absl::SleepFor(absl::Seconds(7));
  EXPECT_EQ(Connections(c), 1) << c.Logs();
  EXPECT_FALSE(
      absl::StrContains(ReadFile(c.dir() + "/coordinator-0.log"), kRefused))
      << c.Logs();

  const absl::Time hup = absl::Now();
  ASSERT_EQ(kill(c.agent_pid(0), SIGHUP), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return absl::StrContains(ReadFile(c.dir() + "/coordinator-0.log"),
                                 kRefused);
      },
      absl::Seconds(10)))
      << c.Logs();
  const absl::Duration presented = absl::Now() - hup;
  EXPECT_LT(presented, absl::Seconds(3)) << c.Logs();
  std::cout << "new certificate presented " << presented
            << " after the SIGHUP\n";
  EXPECT_EQ(CountOccurrences(ReadFile(c.dir() + "/agent-0.log"),
                             "SIGHUP: reconnecting to the coordinator with "
                             "the TLS files as they are now"),
            1)
      << c.Logs();

  // Back to a trusted certificate: the agent (still running) connects
  // again by itself, and logins cross.
  ReplaceCertificate(saved, agent_cert);
  EXPECT_TRUE(
      WaitForCondition([&] { return Connections(c) >= 2; }, absl::Seconds(20)))
      << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.80"), 0);
  EXPECT_TRUE(WaitForCondition([&] { return CoordinatorHas(c, "192.0.2.80"); },
                               absl::Seconds(15)))
      << c.Logs();
}

TEST(AgentReloadTest, SighupWithoutTlsReloadsNothingAndKeepsTheStream) {
  Cluster c(1);
  c.UseInsecure();
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_TRUE(
      WaitForCondition([&] { return Connections(c) == 1; }, absl::Seconds(15)))
      << c.Logs();
  // One at a time: signals that arrive while one is pending merge.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(kill(c.agent_pid(0), SIGHUP), 0);
    EXPECT_TRUE(WaitForCondition(
        [&] {
          return CountOccurrences(ReadFile(c.dir() + "/agent-0.log"),
                                  "SIGHUP: nothing to reload") == i;
        },
        absl::Seconds(10)))
        << c.Logs();
  }
  ASSERT_EQ(c.Notify(0, "192.0.2.81"), 0);
  EXPECT_TRUE(WaitForCondition([&] { return CoordinatorHas(c, "192.0.2.81"); },
                               absl::Seconds(15)))
      << c.Logs();
  EXPECT_EQ(Connections(c), 1) << c.Logs();
}

}  // namespace
}  // namespace relaysync
