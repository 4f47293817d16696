// relayers.db interop with sendmail's own makemap(8), both directions.
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/map/relayers_db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::ContainerEq;

constexpr char kMakemap[] = "/usr/sbin/makemap";

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  std::sort(lines.begin(), lines.end());
  return lines;
}

class MakemapInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kMakemap, X_OK), 0)
        << kMakemap << " missing: run scripts/install-deps.sh";
  }
  testing::ScratchDir dir_;
  std::string path_ = dir_.File("relayers.db");
};

TEST_F(MakemapInteropTest, ReadsWhatMakemapWrites) {
  std::string text = "# comment lines are skipped by makemap\n";
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    std::string key = absl::StrCat("10.1.", i / 250, ".", i % 250);
    std::string value = absl::StrCat(1764000000 + i);
    absl::StrAppend(&text, key, "\t", value, "\n");
    expected.push_back(absl::StrCat(key, "\t", value));
  }
  absl::StrAppend(&text, "ipv6:fd00:db8:0:0:0:0:0:5\t1764000999\n");
  expected.push_back("ipv6:fd00:db8:0:0:0:0:0:5\t1764000999");
  testing::CommandResult made =
      testing::RunShell(absl::StrCat(kMakemap, " hash ", path_), text);
  ASSERT_EQ(made.exit_code, 0);

  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<std::vector<MapEntry>> all = (*db)->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> got;
  for (const MapEntry& e : *all)
    got.push_back(absl::StrCat(e.key, "\t", e.value));
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_THAT(got, ContainerEq(expected));
  EXPECT_EQ(*(*db)->Get("10.1.0.7"), "1764000007");
}

TEST_F(MakemapInteropTest, MakemapDumpsWhatWeWriteIdentically) {
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadWrite);
  ASSERT_TRUE(db.ok()) << db.status();
  std::string expected;
  MapBatch batch;
  for (int i = 0; i < 2000; ++i) {
    std::string key = absl::StrCat("192.0.", i / 256, ".", i % 256);
    batch.Put(key, 1700000000 + i * 7);
    absl::StrAppend(&expected, key, "\t", 1700000000 + i * 7, "\n");
  }
  batch.Put("ipv6:2001:db8:0:0:0:0:0:1", 1700000001);
  absl::StrAppend(&expected, "ipv6:2001:db8:0:0:0:0:0:1\t1700000001\n");
  ASSERT_TRUE((*db)->Apply(batch).ok());

  testing::CommandResult dumped =
      testing::RunShell(absl::StrCat(kMakemap, " -u hash ", path_));
  ASSERT_EQ(dumped.exit_code, 0);
  EXPECT_THAT(SortedLines(dumped.output), ContainerEq(SortedLines(expected)));
}

TEST_F(MakemapInteropTest, MakemapCanUpdateOurFileAndWeSeeIt) {
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadWrite);
  ASSERT_TRUE(db.ok()) << db.status();
  MapBatch batch;
  batch.Put("10.0.0.1", 11);
  ASSERT_TRUE((*db)->Apply(batch).ok());
  // makemap -o appends to an existing map in place.
  testing::CommandResult made = testing::RunShell(
      absl::StrCat(kMakemap, " -o hash ", path_), "10.0.0.2\t22\n");
  ASSERT_EQ(made.exit_code, 0);
  EXPECT_EQ(*(*db)->Get("10.0.0.1"), "11");
  EXPECT_EQ(*(*db)->Get("10.0.0.2"), "22");
}

}  // namespace
}  // namespace relaysync
