// The example configuration files in deploy/config/ (Abseil flagfiles):
// each program starts from its own with only the paths pointed at a
// scratch directory, and a bad flagfile fails at once, naming the problem.
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::Process;
using testing::ReadFile;
using testing::RunCommand;
using testing::WaitForCondition;
using testing::WriteFile;

const std::string kConfigDir =
    std::string(RELAYSYNC_SOURCE_DIR) + "/deploy/config";

// The flags set (not commented out) in a flagfile: name -> value.
std::map<std::string, std::string> ActiveFlags(const std::string& path) {
  std::map<std::string, std::string> flags;
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "--")) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    flags[parts[0]] = parts.size() > 1 ? parts[1] : "";
  }
  return flags;
}

// `binary` --flagfile=deploy/config/`name` followed by `overrides`; fails
// the test first if the file sets a path (a value starting with '/') that
// `overrides` does not replace: the test runs as root and must not touch
// /etc or /var.
std::vector<std::string> ExampleCommand(
    const std::string& binary, const std::string& name,
    const std::vector<std::string>& overrides) {
  const std::string file = kConfigDir + "/" + name;
  const std::map<std::string, std::string> flags = ActiveFlags(file);
  EXPECT_FALSE(flags.empty()) << file;
  for (const auto& [flag, value] : flags) {
    if (!absl::StartsWith(value, "/")) continue;
    bool replaced = false;
    for (const std::string& o : overrides) {
      replaced = replaced || absl::StartsWith(o, "--" + flag + "=");
    }
    EXPECT_TRUE(replaced) << file << " sets --" << flag << "=" << value
                          << ": give the test an override";
  }
  std::vector<std::string> argv = {binary, "--flagfile=" + file};
  argv.insert(argv.end(), overrides.begin(), overrides.end());
  return argv;
}

TEST(ConfigFilesTest, CoordinatorAndAgentStartFromTheExampleFlagfiles) {
  Cluster c(1);  // for its scratch directory and certificates
  const std::string dir = c.dir();
  std::vector<std::string> coordinator_argv = ExampleCommand(
      RELAYSYNC_COORDINATOR_BIN, "coordinator.flags",
      {"--listen=127.0.0.1:0", "--port-file=" + dir + "/port",
       "--data-dir=" + dir + "/data", "--audit-log=" + dir + "/audit.log",
       "--tls-cert=" + c.Tls("coordinator.pem"),
       "--tls-key=" + c.Tls("coordinator.key"),
       "--tls-client-ca=" + c.Tls("ca.pem")});
  if (HasFailure()) return;
  Process coordinator;
  ASSERT_TRUE(
      coordinator.Start(coordinator_argv, dir + "/coordinator.log").ok());
  absl::StatusOr<int> port = testing::WaitForPortFile(
      &coordinator, dir + "/port", dir + "/coordinator.log", absl::Seconds(20));
  ASSERT_TRUE(port.ok()) << port.status() << ReadFile(dir + "/coordinator.log");
  const std::string target = absl::StrCat("127.0.0.1:", *port);

  std::vector<std::string> agent_overrides = {
      "--coordinator=" + target,
      "--host-id=agent0",
      "--db=" + dir + "/relayers.db",
      "--spool-dir=" + dir + "/spool",
      "--notify-socket=" + dir + "/notify.sock",
      "--watch-log=" + dir + "/dovecot.log"};
  for (const std::string& f : c.ClientTlsFlags("agent-agent0")) {
    agent_overrides.push_back(f);
  }
  std::vector<std::string> agent_argv =
      ExampleCommand(RELAYSYNC_AGENT_BIN, "agent.flags", agent_overrides);
  if (HasFailure()) return;
  WriteFile(dir + "/dovecot.log", "");
  Process agent;
  ASSERT_TRUE(agent.Start(agent_argv, dir + "/agent.log").ok());
  ASSERT_TRUE(WaitForCondition(
      [&] { return access((dir + "/notify.sock").c_str(), F_OK) == 0; },
      absl::Seconds(20)))
      << ReadFile(dir + "/agent.log");

  // A login reaches the coordinator: both really run.
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify",
                        "--socket=" + dir + "/notify.sock", "192.0.2.90", "u"},
                       &out),
            0)
      << out;
  std::vector<std::string> dump = {VSMTPRELAY_BIN, "--coordinator=" + target};
  for (const std::string& f : c.ClientTlsFlags("admin-test")) dump.push_back(f);
  dump.push_back("dump");
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return RunCommand(dump, &out) == 0 &&
               absl::StrContains(out, "192.0.2.90");
      },
      absl::Seconds(15)))
      << out << ReadFile(dir + "/agent.log")
      << ReadFile(dir + "/coordinator.log");
  EXPECT_THAT(ReadFile(dir + "/agent.log"),
              HasSubstr("watching log:" + dir + "/dovecot.log"));
  agent.Stop(SIGTERM);
  coordinator.Stop(SIGTERM);
}

TEST(ConfigFilesTest, ABadFlagfileStopsTheProgramWithAClearError) {
  Cluster c(0);
  const std::string dir = c.dir();
  WriteFile(dir + "/unknown.flags",
            "# a typo\n--listen=127.0.0.1:0\n--expire-afer=1h\n");
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN,
                        "--flagfile=" + dir + "/unknown.flags", "--insecure"},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr("Unknown command line flag 'expire_afer'"));

  WriteFile(dir + "/bare.flags", "--listen=127.0.0.1:0\nexpire-after 1h\n");
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN,
                        "--flagfile=" + dir + "/bare.flags", "--insecure"},
                       &out),
            2);
  EXPECT_THAT(out, HasSubstr(dir + "/bare.flags:2: \"expire-after 1h\" is not "
                                   "a flag"));

  EXPECT_EQ(
      RunCommand({RELAYSYNC_AGENT_BIN, "--flagfile=" + dir + "/missing.flags"},
                 &out),
      2);
  EXPECT_THAT(out, HasSubstr("--flagfile: " + dir +
                             "/missing.flags: No such file or directory"));

  WriteFile(dir + "/value.flags", "--max-sessions=many\n");
  EXPECT_EQ(
      RunCommand({RELAYSYNC_AGENT_BIN, "--flagfile=" + dir + "/value.flags"},
                 &out),
      2);
  EXPECT_THAT(out, HasSubstr("max_sessions"));
}

}  // namespace
}  // namespace relaysync
