#include "agent/private_dir.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST(PrivateDirTest, ANewDirectoryIs0700WhateverTheUmask) {
  ScratchDir dir;
  for (mode_t mask : {0000, 0022, 0277}) {
    const std::string path = dir.File("spool-" + std::to_string(mask));
    const mode_t old = umask(mask);
    absl::Status status = MakePrivateDirectory(path);
    umask(old);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(ModeOf(path), 0700u) << "umask " << mask;
  }
}

TEST(PrivateDirTest, AnExistingDirectoryOthersCanReachIsMade0700) {
  ScratchDir dir;
  const std::string path = dir.File("spool");
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  ASSERT_EQ(chmod(path.c_str(), 0777), 0);
  ASSERT_TRUE(MakePrivateDirectory(path).ok());
  EXPECT_EQ(ModeOf(path), 0700u);
}

TEST(PrivateDirTest, ASymbolicLinkOrAFileIsRefused) {
  ScratchDir dir;
  ASSERT_EQ(mkdir(dir.File("elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(symlink(dir.File("elsewhere").c_str(), dir.File("link").c_str()),
            0);
  absl::Status status = MakePrivateDirectory(dir.File("link"));
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find(dir.File("link")), std::string::npos);
  ::relaysync::testing::WriteFile(dir.File("file"), "x");
  EXPECT_TRUE(
      absl::IsFailedPrecondition(MakePrivateDirectory(dir.File("file"))));
}

// Giving a folder to another user needs root; CI runs the tests as root.
TEST(PrivateDirTest, ADirectoryOwnedByAnotherUserIsRefused) {
  ASSERT_EQ(geteuid(), 0u) << "this test chowns a folder: run it as root";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ScratchDir dir;
  const std::string path = dir.File("spool");
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  ASSERT_EQ(chown(path.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  absl::Status status = MakePrivateDirectory(path);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find("owned by uid"), std::string::npos) << status;
}

}  // namespace
}  // namespace relaysync
