#include "common/flag_names.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::WriteFile;

// argv for the functions under test, argv[0] first.
class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {
    for (std::string& a : args_) argv_.push_back(a.data());
  }
  int argc() const { return static_cast<int>(argv_.size()); }
  char** argv() { return argv_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

absl::StatusOr<std::vector<std::string>> Expand(std::vector<std::string> args) {
  Args a(std::move(args));
  return ExpandFlagfiles(a.argc(), a.argv());
}

TEST(FlagNamesTest, AFlagfileIsReplacedByItsFlagsInPlace) {
  ScratchDir dir;
  WriteFile(dir.File("a.flags"),
            "# The spool.\n"
            "\n"
            "   --spool-dir=/var/spool/relaysync  \n"
            "  # indented comment\n"
            "--never-relay=127.0.0.0/8,::1\r\n"
            "--quiet\n");
  absl::StatusOr<std::vector<std::string>> args =
      Expand({"prog", "--db=/a", "--flagfile=" + dir.File("a.flags"), "--db=/b",
              "--", "--flagfile=not-expanded"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(*args,
              ElementsAre("prog", "--db=/a", "--spool-dir=/var/spool/relaysync",
                          "--never-relay=127.0.0.0/8,::1", "--quiet", "--db=/b",
                          "--", "--flagfile=not-expanded"));
}

TEST(FlagNamesTest, FlagfilesNestAndListsAreReadInOrder) {
  ScratchDir dir;
  WriteFile(dir.File("inner.flags"), "--b=2\n");
  WriteFile(dir.File("outer.flags"),
            "--a=1\n--flagfile=" + dir.File("inner.flags") + "\n--c=3\n");
  WriteFile(dir.File("last.flags"), "--d=4\n");
  absl::StatusOr<std::vector<std::string>> args =
      Expand({"prog", "--flagfile",
              dir.File("outer.flags") + "," + dir.File("last.flags")});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(*args, ElementsAre("prog", "--a=1", "--b=2", "--c=3", "--d=4"));
}

TEST(FlagNamesTest, ABadFlagfileIsAnErrorNamingTheFileAndLine) {
  ScratchDir dir;
  WriteFile(dir.File("bad.flags"), "# ok\n--a=1\nspool-dir /var/spool\n");
  absl::StatusOr<std::vector<std::string>> args =
      Expand({"prog", "--flagfile=" + dir.File("bad.flags")});
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(),
              HasSubstr(dir.File("bad.flags") + ":3: \"spool-dir /var/spool\" "
                                                "is not a flag"));

  args = Expand({"prog", "--flagfile=" + dir.File("missing.flags")});
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(),
              HasSubstr(dir.File("missing.flags") + ": No such file"));

  WriteFile(dir.File("loop.flags"), "--flagfile=" + dir.File("loop.flags"));
  args = Expand({"prog", "--flagfile=" + dir.File("loop.flags")});
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(), HasSubstr("nested more than"));

  WriteFile(dir.File("dashes.flags"), "--a=1\n--\n");
  EXPECT_FALSE(Expand({"prog", "--flagfile=" + dir.File("dashes.flags")}).ok());
  EXPECT_FALSE(Expand({"prog", "--flagfile"}).ok());
  EXPECT_FALSE(Expand({"prog", "--flagfile="}).ok());
}

TEST(FlagNamesTest, RepeatedFlagValuesComeFromTheCommandLineAndFlagfiles) {
  ScratchDir dir;
  WriteFile(dir.File("maps.flags"),
            "--output=postfix-hash:/etc/postfix/relayers\n"
            "--output=text:/var/lib/relayers.txt\n");
  Args a({"prog", "-output", "cdb:/a.cdb",
          "--flagfile=" + dir.File("maps.flags"), "--watch-log=/x",
          "--output=exim-dbm:/b", "--", "--output=c"});
  EXPECT_THAT(RepeatedFlagValues(a.argc(), a.argv(), "output"),
              ElementsAre("cdb:/a.cdb", "postfix-hash:/etc/postfix/relayers",
                          "text:/var/lib/relayers.txt", "exim-dbm:/b"));
  EXPECT_THAT(RepeatedFlagValues(a.argc(), a.argv(), "watch-log"),
              ElementsAre("/x"));
  EXPECT_THAT(RepeatedFlagValues(a.argc(), a.argv(), "watch_log"),
              ElementsAre("/x"));
  EXPECT_TRUE(RepeatedFlagValues(a.argc(), a.argv(), "db").empty());
}

}  // namespace
}  // namespace relaysync
