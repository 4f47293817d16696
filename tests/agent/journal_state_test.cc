#include "agent/journal_state.h"

#include <string>

#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;
using ::relaysync::testing::WriteFile;

constexpr char kCursor[] =
    "s=050abbc201eb4032be4a41b496dacca1;i=2;b=0123456789abcdef0123456789abcdef;"
    "m=7d0;t=644f66a942040;x=d3b4367c08942d26";

TEST(JournalStateTest, ACursorSurvivesASaveAndALoad) {
  ScratchDir dir;
  const std::string path = dir.File("journal.state");
  ASSERT_TRUE(
      SaveJournalState(path, {"/var/log/journal/remote", kCursor}).ok());
  absl::StatusOr<std::optional<JournalState>> state = LoadJournalState(path);
  ASSERT_TRUE(state.ok() && state->has_value()) << state.status();
  EXPECT_EQ((*state)->journal, "/var/log/journal/remote");
  EXPECT_EQ((*state)->cursor, kCursor);
}

TEST(JournalStateTest, AnEmptyCursorMeansFromTheHead) {
  ScratchDir dir;
  const std::string path = dir.File("journal.state");
  ASSERT_TRUE(SaveJournalState(path, {"system", ""}).ok());
  absl::StatusOr<std::optional<JournalState>> state = LoadJournalState(path);
  ASSERT_TRUE(state.ok() && state->has_value()) << state.status();
  EXPECT_EQ((*state)->journal, "system");
  EXPECT_EQ((*state)->cursor, "");
}

TEST(JournalStateTest, AMissingFileIsNoState) {
  ScratchDir dir;
  absl::StatusOr<std::optional<JournalState>> state =
      LoadJournalState(dir.File("none"));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_FALSE(state->has_value());
}

TEST(JournalStateTest, ADamagedFileIsDataLossNamingIt) {
  ScratchDir dir;
  const std::string path = dir.File("journal.state");
  for (const char* text : {"", "relaysync-log-tailer v1\npath x\noffset 0\n",
                           "relaysync-journal v1\njournal system\n",
                           "relaysync-journal v1\ncursor -\n"}) {
    WriteFile(path, text);
    absl::StatusOr<std::optional<JournalState>> state = LoadJournalState(path);
    EXPECT_TRUE(absl::IsDataLoss(state.status())) << text;
    EXPECT_NE(state.status().message().find(path), std::string::npos);
  }
}

TEST(JournalStateTest, NewlinesAreNotSaved) {
  ScratchDir dir;
  EXPECT_FALSE(SaveJournalState(dir.File("s"), {"sys\ntem", kCursor}).ok());
  EXPECT_FALSE(SaveJournalState(dir.File("s"), {"system", "s=1\ni=2"}).ok());
  EXPECT_FALSE(SaveJournalState(dir.File("s"), {"", kCursor}).ok());
}

}  // namespace
}  // namespace relaysync
