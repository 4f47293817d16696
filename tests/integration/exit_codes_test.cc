// Exit statuses of the programs' command lines, as documented: 2 for bad
// arguments (a bad flag included: Abseil's own parser would exit 1), 0 for
// --help with the usage on standard output, 0 for --version with the
// project's version.
#include <string>

#include "common/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;

TEST(ExitCodesTest, NotifyExitsTwoForBadArguments) {
  std::string out;
  EXPECT_EQ(
      RunCommand({RELAYSYNC_AGENT_BIN, "notify", "--bogus", "192.0.2.1"}, &out),
      2)
      << out;
  EXPECT_THAT(out, HasSubstr("bogus"));
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify", "--notify-timeout=soon",
                        "192.0.2.1"},
                       &out),
            2)
      << out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify", "999.1.1.1"}, &out), 2)
      << out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify"}, &out), 2) << out;
  EXPECT_EQ(RunCommand(
                {RELAYSYNC_AGENT_BIN, "notify", "--protocol=smtp", "192.0.2.1"},
                &out),
            2)
      << out;
}

TEST(ExitCodesTest, EveryProgramExitsTwoForAnUnknownFlag) {
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "--bogus"}, &out), 2) << out;
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN, "--bogus"}, &out), 2) << out;
}

TEST(ExitCodesTest, HelpExitsZeroWithTheUsage) {
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify", "--help"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("relaysync-agent notify --socket=PATH"));
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN, "--help"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("--expire-after"));
}

TEST(ExitCodesTest, VersionExitsZeroWithTheProjectVersion) {
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "--version"}, &out), 0);
  EXPECT_EQ(out, VersionLine("relaysync-agent") + "\n");
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "notify", "--version"}, &out), 0);
  EXPECT_EQ(out, VersionLine("relaysync-agent") + "\n");
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN, "--version"}, &out), 0);
  EXPECT_EQ(out, VersionLine("relaysync-coordinator") + "\n");
  EXPECT_EQ(RunCommand({VSMTPRELAY_BIN, "--version"}, &out), 0);
  EXPECT_EQ(out,
            VersionLine("vsmtprelay") + ", compatible with vsmtprelay 1.1.0\n");
}

// Whoever asked for --port-file waits for it: a coordinator that cannot
// write it says so and stops rather than run where nobody finds it.
TEST(ExitCodesTest, ACoordinatorThatCannotWriteItsPortFileExitsOne) {
  testing::ScratchDir dir;
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_COORDINATOR_BIN, "--listen=127.0.0.1:0",
                        "--insecure", "--data-dir=" + dir.File("data"),
                        "--port-file=" + dir.File("missing/port")},
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("--port-file: " + dir.File("missing/port.tmp")));
}

}  // namespace
}  // namespace relaysync
