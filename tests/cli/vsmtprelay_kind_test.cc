// vsmtprelay --kind=KIND: reads and writes each map kind, keys spelled as
// that kind's reader looks them up.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/map/map_kind.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "tests/cli/cli_test_util.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;

class VsmtprelayKindTest : public testing::CliFixture {
 protected:
  // The map's entries (key as stored -> value), read with the map writer.
  std::map<std::string, std::string> Entries(MapKind kind,
                                             const std::string& path) {
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(kind, path, RelayersDb::Mode::kReadOnly, {});
    EXPECT_TRUE(map.ok()) << map.status();
    std::map<std::string, std::string> out;
    if (!map.ok()) return out;
    absl::StatusOr<std::vector<MapEntry>> all = (*map)->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const MapEntry& e : *all) out[e.key] = e.value;
    return out;
  }
};

TEST_F(VsmtprelayKindTest, AddsDeletesAndExpiresInEveryKind) {
  struct Case {
    const char* kind;
    MapKind map_kind;
    const char* v6_key;
  };
  for (const Case& c :
       {Case{"sendmail", MapKind::kSendmail, "ipv6:fd00:db8:0:0:0:0:0:5"},
        Case{"postfix-hash", MapKind::kPostfixHash, "fd00:db8::5"},
        Case{"postfix-lmdb", MapKind::kPostfixLmdb, "fd00:db8::5"},
        Case{"exim-dbm", MapKind::kEximDbm,
             "fd00.0db8.0000.0000.0000.0000.0000.0005"},
        Case{"exim-dbmnz", MapKind::kEximDbmnz,
             "fd00.0db8.0000.0000.0000.0000.0000.0005"},
        Case{"cdb", MapKind::kCdb, "fd00:db8::5"},
        Case{"text", MapKind::kText, "fd00:db8::5"}}) {
    SCOPED_TRACE(c.kind);
    const std::string path = dir_.File(absl::StrCat(c.kind, ".map"));
    const std::string db = "--db=" + path;
    const std::string kind = absl::StrCat("--kind=", c.kind);
    ASSERT_EQ(Run({db, kind, "add", "fd00:db8::5", "100"}).code, 0);
    ASSERT_EQ(Run({db, kind, "add", "10.0.0.1", "200"}).code, 0);
    ASSERT_EQ(Run({db, kind, "add", "10.0.0.2", "300"}).code, 0);
    EXPECT_EQ(
        Entries(c.map_kind, path),
        (std::map<std::string, std::string>{
            {c.v6_key, "100"}, {"10.0.0.1", "200"}, {"10.0.0.2", "300"}}));
    testing::CliResult dump = Run({db, kind, "dump"});
    EXPECT_EQ(dump.code, 0);
    EXPECT_THAT(dump.out, HasSubstr(absl::StrCat(c.v6_key, "\t100")));
    EXPECT_EQ(Run({db, kind, "delete", "fd00:db8::5"}).code, 0);
    EXPECT_EQ(Run({db, kind, "delete", "fd00:db8::5"}).code, 1);
    // expire N: older than N minutes by the clock (kNow).
    EXPECT_EQ(Run({db, kind, "expire"}).code, 0);
    EXPECT_TRUE(Entries(c.map_kind, path).empty());
  }
}

TEST_F(VsmtprelayKindTest, AnUnknownKindIsAUsageErrorNamingTheKinds) {
  testing::CliResult r = Run({"--kind=postfix", "dump"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("postfix-hash"));
}

TEST_F(VsmtprelayKindTest, DefaultIsTheSendmailMap) {
  ASSERT_EQ(Run({"add", "fd00:db8::5", "100"}).code, 0);
  EXPECT_EQ(Entries(MapKind::kSendmail, DefaultDb()),
            (std::map<std::string, std::string>{
                {"ipv6:fd00:db8:0:0:0:0:0:5", "100"}}));
}

}  // namespace
}  // namespace relaysync
