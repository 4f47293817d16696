#include "backends/map/map_kind.h"

#include <db.h>
#include <sys/stat.h>

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;

// The keys of a Berkeley DB hash file, bytes as stored (NULs included).
std::vector<std::string> RawKeys(const std::string& path) {
  std::vector<std::string> keys;
  DB* db = nullptr;
  if (db_create(&db, nullptr, 0) != 0) return keys;
  if (db->open(db, nullptr, path.c_str(), nullptr, DB_HASH, DB_RDONLY, 0) ==
      0) {
    DBC* c = nullptr;
    db->cursor(db, nullptr, &c, 0);
    DBT k, v;
    std::memset(&k, 0, sizeof(k));
    std::memset(&v, 0, sizeof(v));
    while (c->get(c, &k, &v, DB_NEXT) == 0) {
      keys.emplace_back(static_cast<const char*>(k.data), k.size);
    }
    c->close(c);
  }
  db->close(db, 0);
  return keys;
}

TEST(MapKindTest, ParsesEveryKindByName) {
  for (MapKind kind :
       {MapKind::kSendmail, MapKind::kPostfixHash, MapKind::kPostfixLmdb,
        MapKind::kEximDbm, MapKind::kEximDbmnz, MapKind::kText}) {
    absl::StatusOr<MapKind> parsed = ParseMapKind(MapKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  absl::Status bad = ParseMapKind("postfix").status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_THAT(bad.message(), HasSubstr("postfix-hash"));
}

TEST(MapKindTest, EachKindSpellsIpv6AsItsReaderLooksItUp) {
  EXPECT_EQ(MapKindKeyStyle(MapKind::kSendmail), KeyStyle::kSendmail);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kPostfixHash), KeyStyle::kCanonical);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kPostfixLmdb), KeyStyle::kCanonical);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kEximDbm), KeyStyle::kExim);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kEximDbmnz), KeyStyle::kExim);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kCdb), KeyStyle::kCanonical);
  EXPECT_EQ(MapKindKeyStyle(MapKind::kText), KeyStyle::kCanonical);
}

TEST(MapKindTest, ParsesOutputSpecsWhosePathMayHoldColons) {
  absl::StatusOr<MapOutput> o = ParseMapOutput("postfix-hash:/etc/a:b.db");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kind, MapKind::kPostfixHash);
  EXPECT_EQ(o->path, "/etc/a:b.db");
  EXPECT_EQ(o->ToString(), "postfix-hash:/etc/a:b.db");
  EXPECT_FALSE(ParseMapOutput("text").ok());
  EXPECT_FALSE(ParseMapOutput("text:").ok());
  EXPECT_FALSE(ParseMapOutput("/etc/mail/relayers.db").ok());
}

TEST(MapKindTest, EachBerkeleyDbKindTerminatesKeysAsItsReaderLooksThemUp) {
  testing::ScratchDir dir;
  struct Case {
    MapKind kind;
    std::string key;
  };
  for (const Case& c :
       {Case{MapKind::kSendmail, std::string("10.0.0.1")},
        Case{MapKind::kPostfixHash, std::string("10.0.0.1\0", 9)},
        Case{MapKind::kEximDbm, std::string("10.0.0.1\0", 9)},
        Case{MapKind::kEximDbmnz, std::string("10.0.0.1")}}) {
    const std::string path = dir.File(std::string(MapKindName(c.kind)));
    // The kind decides, whatever --nul-keys (for sendmail) said.
    MapOptions options;
    options.nul_terminated_keys = c.kind == MapKind::kEximDbmnz;
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(c.kind, path, RelayersDb::Mode::kReadWrite, options);
    ASSERT_TRUE(map.ok()) << map.status();
    MapBatch batch;
    batch.Put("10.0.0.1", 42);
    ASSERT_TRUE((*map)->Apply(batch).ok());
    EXPECT_EQ(RawKeys(path), std::vector<std::string>{c.key})
        << MapKindName(c.kind);
    // And it reads its own keys back without the NUL.
    absl::StatusOr<std::vector<MapEntry>> all = (*map)->ReadAll();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].key, "10.0.0.1");
  }
}

TEST(MapKindTest, RenamedKindsReplaceTheFileOnEveryChange) {
  testing::ScratchDir dir;
  for (MapKind kind : {MapKind::kEximDbm, MapKind::kEximDbmnz, MapKind::kCdb,
                       MapKind::kText}) {
    SCOPED_TRACE(MapKindName(kind));
    const std::string path = dir.File(std::string(MapKindName(kind)));
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(kind, path, RelayersDb::Mode::kReadWrite, MapOptions());
    ASSERT_TRUE(map.ok()) << map.status();
    struct stat before, after;
    ASSERT_EQ(stat(path.c_str(), &before), 0);
    MapBatch batch;
    batch.Put("10.0.0.1", 42);
    ASSERT_TRUE((*map)->Apply(batch).ok());
    ASSERT_EQ(stat(path.c_str(), &after), 0);
    EXPECT_NE(before.st_ino, after.st_ino);
    EXPECT_EQ(after.st_mode & 0777, 0644u);
    absl::StatusOr<std::unique_ptr<MapWriter>> reader =
        OpenMap(kind, path, RelayersDb::Mode::kReadOnly, MapOptions());
    ASSERT_TRUE(reader.ok()) << reader.status();
    absl::StatusOr<std::vector<MapEntry>> all = (*reader)->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].key, "10.0.0.1");
    EXPECT_EQ((*all)[0].value, "42");
  }
}

TEST(MapKindTest, OpensTheTextKind) {
  testing::ScratchDir dir;
  absl::StatusOr<std::unique_ptr<MapWriter>> map =
      OpenMap(MapKind::kText, dir.File("relayers.txt"),
              RelayersDb::Mode::kReadWrite, MapOptions());
  ASSERT_TRUE(map.ok()) << map.status();
  MapBatch batch;
  batch.Put("10.0.0.1", 42);
  ASSERT_TRUE((*map)->Apply(batch).ok());
  EXPECT_EQ(testing::ReadFile(dir.File("relayers.txt")), "10.0.0.1\t42\n");
}

}  // namespace
}  // namespace relaysync
