// Mutual TLS between real processes: no program starts without TLS or an
// explicit --insecure, certificates and CAs are rotated under running
// agents, and an agent cannot pose as another host.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::RunShell;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(15);
// gRPC's file watcher re-reads certificates every 5 s (kTlsReloadInterval).
constexpr absl::Duration kReload = absl::Seconds(20);

TEST(TlsTest, NoProgramStartsWithoutTlsOrInsecure) {
  testing::ScratchDir dir;
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN, "--listen=127.0.0.1:0",
                        "--data-dir=" + dir.File("data")},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr("no TLS credentials: give --tls-client-ca, "
                             "--tls-cert and --tls-key"));
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "--coordinator=127.0.0.1:1",
                        "--host-id=mx1", "--db=" + dir.File("r.db"),
                        "--spool-dir=" + dir.File("spool")},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr("no TLS credentials: give --tls-ca, --tls-cert "
                             "and --tls-key"));
  EXPECT_EQ(RunCommand({"/usr/bin/env", "-u", "VSMTPRELAY_TLS_CA", "-u",
                        "VSMTPRELAY_TLS_CERT", "-u", "VSMTPRELAY_TLS_KEY",
                        "HOME=" + dir.path(), "XDG_CONFIG_HOME=",
                        VSMTPRELAY_BIN, "--coordinator=127.0.0.1:1", "dump"},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr("no TLS credentials"));
  // Half a set is named, too.
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "--coordinator=127.0.0.1:1",
                        "--host-id=mx1", "--tls-ca=/etc/hostname",
                        "--db=" + dir.File("r.db"),
                        "--spool-dir=" + dir.File("spool")},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr("--tls-cert: missing"));
}

TEST(TlsTest, InsecureModeStillWorksAndSaysSo) {
  Cluster c(2);
  c.UseInsecure();
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.20"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.20"); }, kPropagation))
      << c.Logs();
  std::string out;
  EXPECT_EQ(c.Vsmtprelay({"add", "192.0.2.21"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("warning: --insecure"));
  const std::string logs = c.Logs();
  EXPECT_THAT(logs, HasSubstr("relaysync-coordinator: WARNING: --insecure"));
  EXPECT_THAT(logs, HasSubstr("relaysync-agent: WARNING: --insecure"));
}

TEST(TlsTest, AgentCannotPoseAsAnotherHost) {
  Cluster c(3);
  // Agent 2 claims host id agent1 with its own certificate (agent2).
  c.AddAgentFlags(2, {"--host-id=agent1"});
  ASSERT_TRUE(c.StartCoordinator());
  ASSERT_TRUE(c.StartAgent(0));
  ASSERT_TRUE(c.StartAgent(2));
  ASSERT_EQ(c.Notify(2, "192.0.2.30"), 0);
  ASSERT_EQ(c.Notify(0, "192.0.2.31"), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.Lookup(0, "192.0.2.31").has_value(); }, kPropagation));
  // The impostor's login never reached the cluster.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_FALSE(c.Lookup(0, "192.0.2.30").has_value()) << c.Logs();
  const std::string logs = c.Logs();
  EXPECT_THAT(logs, HasSubstr("spiffe://relaysync/agent/agent2 may sync only "
                              "as host id \"agent2\", not \"agent1\""));
  EXPECT_THAT(logs, HasSubstr("refused sync from "
                              "spiffe://relaysync/agent/agent2 at ipv4:"));
}

TEST(TlsTest, ReaderCannotAddThroughVsmtprelay) {
  Cluster c(1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  std::vector<std::string> args = c.ClientTlsFlags("reader-monitor");
  args.push_back("add");
  args.push_back("192.0.2.40");
  std::string out;
  EXPECT_EQ(c.Vsmtprelay(args, &out), 1);
  EXPECT_THAT(out, HasSubstr("lacks the role admin"));
  args = c.ClientTlsFlags("reader-monitor");
  args.push_back("dump");
  EXPECT_EQ(c.Vsmtprelay(args, &out), 0) << out;
  EXPECT_THAT(out, ::testing::Not(HasSubstr("192.0.2.40")));
}

// The SHA-256 fingerprint of the certificate a TLS server presents.
std::string ServedFingerprint(const std::string& target) {
  return std::string(absl::StripAsciiWhitespace(
      RunShell("openssl s_client -connect " + target +
               " </dev/null 2>/dev/null | openssl x509 -noout -fingerprint "
               "-sha256")
          .output));
}

std::string Fingerprint(const std::string& pem) {
  return std::string(absl::StripAsciiWhitespace(
      RunShell("openssl x509 -noout -fingerprint -sha256 -in " + pem).output));
}

TEST(TlsTest, CertificateAndClientCaRotateUnderConnectedAgents) {
  Cluster c(2);
  const std::string client_ca = c.dir() + "/client-ca.pem";
  ASSERT_EQ(RunShell("cp " + c.Tls("ca.pem") + " " + client_ca).exit_code, 0);
  c.AddCoordinatorFlags({"--tls-client-ca=" + client_ca});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.50"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.50"); }, kPropagation))
      << c.Logs();

  // 1. A new coordinator certificate from the same CA, moved into place.
  const std::string next = c.dir() + "/next";
  ASSERT_EQ(
      RunShell("mkdir -p " + next + " && cp " + c.Tls("ca.pem") + " " +
               c.Tls("ca.key") + " " + next + "/ && " + RELAYSYNC_MAKE_CERTS +
               " --coordinator=localhost,127.0.0.1 " + next +
               " >/dev/null && mv " + next + "/coordinator.key " +
               c.Tls("coordinator.key") + " && mv " + next +
               "/coordinator.pem " + c.Tls("coordinator.pem"))
          .exit_code,
      0);
  const std::string rotated = Fingerprint(c.Tls("coordinator.pem"));
  ASSERT_FALSE(rotated.empty());
  EXPECT_TRUE(WaitForCondition(
      [&] { return ServedFingerprint(c.target()) == rotated; }, kReload))
      << "served " << ServedFingerprint(c.target()) << ", want " << rotated;
  std::string out;
  EXPECT_EQ(c.Vsmtprelay({"add", "192.0.2.51"}, &out), 0) << out;

  // 2. A new client CA: first both, then only the new one.
  const std::string ca2 = c.dir() + "/ca2";
  ASSERT_EQ(RunShell(std::string(RELAYSYNC_MAKE_CERTS) + " --admin=rotated " +
                     ca2 + " >/dev/null")
                .exit_code,
            0);
  const std::vector<std::string> rotated_admin = {
      "--tls-cert=" + ca2 + "/admin-rotated.pem",
      "--tls-key=" + ca2 + "/admin-rotated.key"};
  auto add_as_rotated = [&](const std::string& ip) {
    std::vector<std::string> args = rotated_admin;
    args.push_back("add");
    args.push_back(ip);
    return c.Vsmtprelay(args, &out);
  };
  EXPECT_NE(add_as_rotated("192.0.2.52"), 0);
  ASSERT_EQ(
      RunShell("cat " + c.Tls("ca.pem") + " " + ca2 + "/ca.pem > " + client_ca +
               ".tmp && mv " + client_ca + ".tmp " + client_ca)
          .exit_code,
      0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return add_as_rotated("192.0.2.53") == 0; }, kReload))
      << out;
  ASSERT_EQ(RunShell("cp " + ca2 + "/ca.pem " + client_ca + ".tmp && mv " +
                     client_ca + ".tmp " + client_ca)
                .exit_code,
            0);
  // The old CA's admin is refused once the new bundle is read.
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return c.Vsmtprelay({"add", "192.0.2.54"}, &out) != 0;
      },
      kReload))
      << out;
  EXPECT_EQ(add_as_rotated("192.0.2.55"), 0) << out;

  // The agents (old-CA certificates) stayed connected all along: a login
  // still crosses, and each connected once.
  ASSERT_EQ(c.Notify(1, "192.0.2.56"), 0);
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.56"); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(c.AllHave("192.0.2.55"));
  const std::string log = testing::ReadFile(c.dir() + "/coordinator-0.log");
  EXPECT_EQ(testing::CountOccurrences(log, "connected from"), 2) << log;
}

}  // namespace
}  // namespace relaysync
