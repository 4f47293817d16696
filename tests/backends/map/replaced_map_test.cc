#include "backends/map/replaced_map.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "backends/map/map_file_formats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

// A text map, the ReplacedMap with the simplest format.
absl::StatusOr<std::unique_ptr<ReplacedMap>> OpenText(
    const std::string& path, bool writable, const MapOptions& options = {}) {
  return ReplacedMap::Open(path, writable, std::make_unique<TextFormat>(),
                           options);
}

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

MATCHER_P2(Entry, key, value, "") {
  return arg.key == key && arg.value == value;
}

class ReplacedMapTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReplacedMap> OpenWritable() {
    absl::StatusOr<std::unique_ptr<ReplacedMap>> map = OpenText(path_, true);
    EXPECT_TRUE(map.ok()) << map.status();
    return map.ok() ? std::move(*map) : nullptr;
  }
  ino_t Inode() const {
    struct stat st;
    return stat(path_.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  testing::ScratchDir dir_;
  std::string path_ = dir_.File("relayers.txt");
};

TEST_F(ReplacedMapTest, WritesOneTabSeparatedLinePerEntryWithIpv6Quoted) {
  auto map = OpenWritable();
  MapBatch batch;
  batch.Put("10.1.2.3", 1700000000);
  batch.Put("fd00:db8::5", 1700000001);
  ASSERT_TRUE(map->Apply(batch).ok());
  EXPECT_EQ(testing::ReadFile(path_),
            "10.1.2.3\t1700000000\n\"fd00:db8::5\"\t1700000001\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(ReplacedMapTest, OpenCreatesAnEmptyMapAndReadOnlyNeedsOne) {
  EXPECT_TRUE(absl::IsNotFound(OpenText(path_, false).status()));
  auto map = OpenWritable();
  EXPECT_EQ(testing::ReadFile(path_), "");
  absl::StatusOr<std::unique_ptr<ReplacedMap>> reader = OpenText(path_, false);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_THAT(*(*reader)->ReadAll(), IsEmpty());
  MapBatch batch;
  batch.Put("10.0.0.1", 1);
  EXPECT_TRUE(absl::IsFailedPrecondition((*reader)->Apply(batch).status()));
}

TEST_F(ReplacedMapTest, EveryChangeIsANewFileRenamedIntoPlace) {
  auto map = OpenWritable();
  MapBatch put;
  put.Put("10.0.0.1", 5);
  ASSERT_TRUE(map->Apply(put).ok());
  const ino_t first = Inode();
  ASSERT_TRUE(map->Apply(put).ok());  // no change: file untouched
  EXPECT_EQ(Inode(), first);
  MapBatch del;
  del.Delete("10.0.0.1");
  del.Delete("10.0.0.2");
  absl::StatusOr<ApplyResult> r = map->Apply(del);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->written, 1u);
  EXPECT_THAT(r->missing, UnorderedElementsAre("10.0.0.2"));
  EXPECT_NE(Inode(), first);
  // No temporary file is left next to the map.
  EXPECT_EQ(testing::RunShell("ls " + dir_.path()).output,
            "relayers.txt\nrelayers.txt.lock\n");
}

TEST_F(ReplacedMapTest, ReadsWhatAnotherWriterOrAPersonWrote) {
  auto map = OpenWritable();
  testing::WriteFile(path_,
                     "# hand-edited\n\n10.0.0.1 100\n10.0.0.2: 200\n"
                     "\"fd00::1\"\t300\n  10.0.0.3\t\t400  \n");
  EXPECT_THAT(
      *map->ReadAll(),
      UnorderedElementsAre(Entry("10.0.0.1", "100"), Entry("10.0.0.2", "200"),
                           Entry("fd00::1", "300"), Entry("10.0.0.3", "400")));
  MapBatch batch;
  batch.Put("10.0.0.4", 500);
  ASSERT_TRUE(map->Apply(batch).ok());
  EXPECT_EQ(testing::ReadFile(path_),
            "10.0.0.1\t100\n10.0.0.2\t200\n10.0.0.3\t400\n10.0.0.4\t500\n"
            "\"fd00::1\"\t300\n");
}

TEST_F(ReplacedMapTest, RemoveAtOrBeforeKeepsLaterAndNonNumericEntries) {
  auto map = OpenWritable();
  testing::WriteFile(path_, "10.0.0.1\t100\n10.0.0.2\t200\n10.0.0.3\tjunk\n");
  absl::StatusOr<std::vector<MapEntry>> removed = map->RemoveAtOrBefore(150);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(*removed, UnorderedElementsAre(Entry("10.0.0.1", "100")));
  EXPECT_EQ(testing::ReadFile(path_), "10.0.0.2\t200\n10.0.0.3\tjunk\n");
}

TEST_F(ReplacedMapTest, RefusesKeysThatWouldBreakTheFormat) {
  auto map = OpenWritable();
  MapBatch batch;
  batch.Put("10.0.0.1\n10.0.0.2", 1);
  absl::Status s = map->Apply(batch).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(testing::ReadFile(path_), "");
}

TEST_F(ReplacedMapTest, WaitsForAnotherWriterAndGivesUpAfterTheTimeout) {
  auto map = OpenWritable();
  const int fd = open((path_ + ".lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  MapOptions quick;
  quick.lock_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<ReplacedMap>> other =
      OpenText(path_, true, quick);
  EXPECT_TRUE(absl::IsDeadlineExceeded(other.status())) << other.status();
  close(fd);
  other = OpenText(path_, true, quick);
  ASSERT_TRUE(other.ok()) << other.status();
}

TEST_F(ReplacedMapTest, ErrorsNameTheFile) {
  absl::StatusOr<std::unique_ptr<ReplacedMap>> map =
      OpenText(dir_.File("missing/relayers.txt"), true);
  ASSERT_FALSE(map.ok());
  EXPECT_THAT(map.status().message(), HasSubstr("missing/relayers.txt"));
}

}  // namespace
}  // namespace relaysync
