// `vsmtprelay dump > relayers && makemap hash relayers.db < relayers`
// rebuilds an identical map.
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/process.h"
#include "tests/cli/cli_test_util.h"

namespace relaysync {
namespace {

using ::testing::ContainerEq;

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  std::sort(lines.begin(), lines.end());
  return lines;
}

class VsmtprelayMakemapTest : public testing::CliFixture {};

TEST_F(VsmtprelayMakemapTest, DumpRebuildsAnIdenticalMapWithMakemap) {
  ASSERT_EQ(access("/usr/sbin/makemap", X_OK), 0)
      << "makemap missing: run scripts/install-deps.sh";
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(Run({"add", absl::StrCat("172.16.", i / 100, ".", i % 100),
                   absl::StrCat(kNow - i * 61)})
                  .code,
              kExitOk);
  }
  ASSERT_EQ(Run({"add", "2001:db8::7", absl::StrCat(kNow + 3600)}).code,
            kExitOk);
  ASSERT_EQ(Run({"--key-style=sendmail", "add", "fd00::5", "1"}).code, kExitOk);
  testing::CliResult dump = Run({"dump"});
  ASSERT_EQ(dump.code, kExitOk);

  const std::string rebuilt = dir_.File("rebuilt.db");
  testing::WriteFile(dir_.File("relayers"), dump.out);
  testing::CommandResult made = testing::RunShell(
      "/usr/sbin/makemap hash " + rebuilt + " < " + dir_.File("relayers"));
  ASSERT_EQ(made.exit_code, 0);

  testing::CommandResult original =
      testing::RunShell("/usr/sbin/makemap -u hash " + DefaultDb());
  testing::CommandResult copy =
      testing::RunShell("/usr/sbin/makemap -u hash " + rebuilt);
  ASSERT_EQ(original.exit_code, 0);
  ASSERT_EQ(copy.exit_code, 0);
  EXPECT_EQ(SortedLines(original.output).size(), 302u);
  EXPECT_THAT(SortedLines(copy.output),
              ContainerEq(SortedLines(original.output)));
  // And vsmtprelay reads the rebuilt map back to the same dump.
  EXPECT_EQ(Run({"--db=" + rebuilt, "dump"}).out, dump.out);
}

}  // namespace
}  // namespace relaysync
