#include "agent/log_tailer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::AppendToFile;
using ::relaysync::testing::ScratchDir;

// Collects delivered lines; waits with a deadline instead of sleeping.
class Lines {
 public:
  LogTailer::LineCallback Callback() {
    return [this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
      cv_.notify_all();
    };
  }
  // All lines once there are at least `n` (or whatever arrived in 5 s).
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5),
                 [&] { return lines_.size() >= n; });
    return lines_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// "<prefix>-<from>\n" ... "<prefix>-<to - 1>\n", and the same as a vector.
std::string Numbered(const std::string& prefix, int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) absl::StrAppend(&text, prefix, "-", i, "\n");
  return text;
}
std::vector<std::string> NumberedLines(const std::string& prefix, int from,
                                       int to) {
  std::vector<std::string> lines;
  for (int i = from; i < to; ++i) lines.push_back(absl::StrCat(prefix, "-", i));
  return lines;
}
std::vector<std::string> Concat(std::vector<std::string> a,
                                const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class LogTailerTest : public ::testing::Test {
 protected:
  LogTailer::Options Opts() {
    LogTailer::Options options;
    options.path = dir_.File("mail.log");
    options.state_path = dir_.File("tail.state");
    return options;
  }
  std::string log() { return dir_.File("mail.log"); }

  ScratchDir dir_;
};

TEST_F(LogTailerTest, AppendsAreDeliveredInOrder) {
  EXPECT_TRUE(AppendToFile(log(), "history\n"));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  for (int i = 0; i < 200; i += 20)
    EXPECT_TRUE(AppendToFile(log(), Numbered("l", i, i + 20)));
  EXPECT_EQ(lines.WaitFor(200), NumberedLines("l", 0, 200));
}

TEST_F(LogTailerTest, NoStateStartsAtTheEndWithoutReplayingHistory) {
  EXPECT_TRUE(AppendToFile(log(), "old-1\nold-2\nhalf a li"));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  // The rest of the line in progress at start is skipped, not half-delivered.
  EXPECT_TRUE(AppendToFile(log(), "ne\nnew-1\n"));
  EXPECT_EQ(lines.WaitFor(1), std::vector<std::string>{"new-1"});
}

TEST_F(LogTailerTest, PartialLineWaitsForItsNewline) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), "first\npar"));
  EXPECT_EQ(lines.WaitFor(1), std::vector<std::string>{"first"});
  EXPECT_TRUE(AppendToFile(log(), "tial"));
  EXPECT_TRUE(AppendToFile(log(), "\nlast\n"));
  EXPECT_EQ(lines.WaitFor(3),
            (std::vector<std::string>{"first", "partial", "last"}));
}

TEST_F(LogTailerTest, FollowsRotationByRenameWithoutLosingLines) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  std::vector<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    std::string tag = absl::StrCat("r", round);
    // Written immediately before the rename: still delivered.
    EXPECT_TRUE(AppendToFile(log(), Numbered(tag + "-old", 0, 50)));
    std::string rotated = dir_.File(absl::StrCat("mail.log.", round));
    ASSERT_EQ(rename(log().c_str(), rotated.c_str()), 0);
    EXPECT_TRUE(AppendToFile(log(), Numbered(tag + "-new", 0, 10)));
    expected = Concat(expected, NumberedLines(tag + "-old", 0, 50));
    expected = Concat(expected, NumberedLines(tag + "-new", 0, 10));
    EXPECT_EQ(lines.WaitFor(expected.size()), expected);
  }
}

TEST_F(LogTailerTest, CopytruncateRestartsAtTheBeginning) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), Numbered("before", 0, 100)));
  ASSERT_EQ(lines.WaitFor(100).size(), 100u);
  ASSERT_EQ(truncate(log().c_str(), 0), 0);
  EXPECT_TRUE(AppendToFile(log(), "after-0\nafter-1\n"));
  EXPECT_EQ(lines.WaitFor(102),
            Concat(NumberedLines("before", 0, 100), {"after-0", "after-1"}));
}

TEST_F(LogTailerTest, FileCreatedAfterStartIsReadFromTheBeginning) {
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), Numbered("c", 0, 5)));
  EXPECT_EQ(lines.WaitFor(5), NumberedLines("c", 0, 5));
}

TEST_F(LogTailerTest, RestartResumesAfterTheLastDeliveredLine) {
  EXPECT_TRUE(AppendToFile(log(), "history\n"));
  {
    Lines lines;
    LogTailer tailer(Opts());
    ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
    EXPECT_TRUE(AppendToFile(log(), Numbered("a", 0, 50) + "b-0 partial"));
    ASSERT_EQ(lines.WaitFor(50), NumberedLines("a", 0, 50));
    tailer.Stop();
  }
  // Written while the agent is down, completing the partial line.
  EXPECT_TRUE(AppendToFile(log(), " done\n" + Numbered("b", 1, 20)));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), Numbered("b", 20, 30)));
  EXPECT_EQ(lines.WaitFor(30),
            Concat({"b-0 partial done"}, NumberedLines("b", 1, 30)));
}

TEST_F(LogTailerTest, RotationWhileDownFinishesTheOldFileThenReadsTheNewOne) {
  EXPECT_TRUE(AppendToFile(log(), "history\n"));
  {
    Lines lines;
    LogTailer tailer(Opts());
    ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
    EXPECT_TRUE(AppendToFile(log(), "a\n"));
    ASSERT_EQ(lines.WaitFor(1).size(), 1u);
  }
  // While the agent is down: more lines, then logrotate renames the file.
  EXPECT_TRUE(AppendToFile(log(), "late-0\nlate-1\n"));
  ASSERT_EQ(rename(log().c_str(), dir_.File("mail.log.1").c_str()), 0);
  EXPECT_TRUE(AppendToFile(log(), "fresh-0\nfresh-1\n"));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_EQ(lines.WaitFor(4), (std::vector<std::string>{"late-0", "late-1",
                                                        "fresh-0", "fresh-1"}));
}

TEST_F(LogTailerTest, RotationWhileDownWithTheOldFileGoneReadsTheNewOne) {
  EXPECT_TRUE(AppendToFile(log(), "history\n"));
  {
    Lines lines;
    LogTailer tailer(Opts());
    ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  }
  ASSERT_EQ(unlink(log().c_str()), 0);
  EXPECT_TRUE(AppendToFile(log(), "fresh-0\n"));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_EQ(lines.WaitFor(1), std::vector<std::string>{"fresh-0"});
}

TEST_F(LogTailerTest, WritesToTheOldFileBeforeTheWriterReopensAreRead) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  // A daemon keeps its descriptor across logrotate's rename + create until
  // it is told to reopen.
  int daemon_fd = open(log().c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(daemon_fd, 0);
  ASSERT_EQ(rename(log().c_str(), dir_.File("mail.log.1").c_str()), 0);
  EXPECT_TRUE(AppendToFile(log(), "new-0\n"));
  ASSERT_EQ(lines.WaitFor(1), std::vector<std::string>{"new-0"});
  const std::string late = "old-late-0\nold-late-1\n";
  ASSERT_EQ(write(daemon_fd, late.data(), late.size()),
            static_cast<ssize_t>(late.size()));
  close(daemon_fd);
  EXPECT_EQ(lines.WaitFor(3),
            (std::vector<std::string>{"new-0", "old-late-0", "old-late-1"}));
}

TEST_F(LogTailerTest, CrashRepeatsOnlyUnsavedLinesAndLosesNone) {
  // Checkpoints exactly every 10 lines, so the saved position is known.
  LogTailer::Options options = Opts();
  options.checkpoint_lines = 10;
  options.checkpoint_interval = absl::Hours(1);
  EXPECT_TRUE(AppendToFile(log(), ""));
  std::string saved_state;
  {
    Lines lines;
    LogTailer tailer(options);
    ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
    EXPECT_TRUE(AppendToFile(log(), Numbered("x", 0, 25)));
    ASSERT_EQ(lines.WaitFor(25).size(), 25u);
    // What a crash now would leave: the checkpoint taken after x-19.
    saved_state = ::relaysync::testing::ReadFile(dir_.File("tail.state"));
    EXPECT_TRUE(AppendToFile(log(), Numbered("x", 25, 40)));
    ASSERT_EQ(lines.WaitFor(40), NumberedLines("x", 0, 40));
  }
  ::relaysync::testing::WriteFile(dir_.File("tail.state"), saved_state);
  EXPECT_TRUE(AppendToFile(log(), Numbered("x", 40, 50)));
  Lines lines;
  LogTailer tailer(options);
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_EQ(lines.WaitFor(30), NumberedLines("x", 20, 50));
}

TEST_F(LogTailerTest, StopIsPromptAndIdempotent) {
  Lines lines;
  LogTailer tailer(Opts());
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  auto start = std::chrono::steady_clock::now();
  tailer.Stop();
  tailer.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(1000));
  EXPECT_FALSE(tailer.Start(lines.Callback()).ok());
}

TEST_F(LogTailerTest, OverlongLinesAreDropped) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  LogTailer::Options options = Opts();
  options.max_line_bytes = 100;
  Lines lines;
  LogTailer tailer(options);
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), std::string(500, 'x') + "\nshort\n"));
  EXPECT_EQ(lines.WaitFor(1), std::vector<std::string>{"short"});
}

TEST_F(LogTailerTest, FileWritableByOthersIsRefusedAtStartWhenAsked) {
  EXPECT_TRUE(AppendToFile(log(), "x\n"));
  LogTailer::Options options = Opts();
  options.refuse_writable_by_others = true;
  for (mode_t mode : {0666, 0620}) {
    ASSERT_EQ(chmod(log().c_str(), mode), 0);
    Lines lines;
    LogTailer tailer(options);
    absl::Status status = tailer.Start(lines.Callback());
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
    EXPECT_NE(status.message().find(log()), std::string::npos) << status;
    EXPECT_NE(status.message().find("chmod go-w"), std::string::npos) << status;
  }
  ASSERT_EQ(chmod(log().c_str(), 0644), 0);
  Lines lines;
  LogTailer tailer(options);
  EXPECT_TRUE(tailer.Start(lines.Callback()).ok());
}

TEST_F(LogTailerTest, FileMadeWritableLaterIsSkippedThenReadFromItsEnd) {
  EXPECT_TRUE(AppendToFile(log(), ""));
  LogTailer::Options options = Opts();
  options.refuse_writable_by_others = true;
  options.poll_interval = absl::Milliseconds(20);
  Lines lines;
  LogTailer tailer(options);
  ASSERT_TRUE(tailer.Start(lines.Callback()).ok());
  EXPECT_TRUE(AppendToFile(log(), "trusted\n"));
  ASSERT_EQ(lines.WaitFor(1), std::vector<std::string>{"trusted"});
  ASSERT_EQ(chmod(log().c_str(), 0666), 0);
  absl::SleepFor(absl::Milliseconds(500));  // > 20 poll rounds
  EXPECT_TRUE(AppendToFile(log(), "written-while-writable\n"));
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(chmod(log().c_str(), 0644), 0);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(AppendToFile(log(), "after-the-fix\n"));
  EXPECT_EQ(lines.WaitFor(2),
            (std::vector<std::string>{"trusted", "after-the-fix"}));
}

}  // namespace
}  // namespace relaysync
