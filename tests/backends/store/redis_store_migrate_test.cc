// RedisStore::MigrateLayout against a real redis-server: the record hash of
// a relaysync before 2026-12 ({p}:rec, written here as it wrote it) is
// refused until migrated, and then moves with nothing lost, nothing
// brought back, and the epoch, version and attribution kept.
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/store/redis_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/redis_server.h"
#include "tests/backends/store/store_conformance_test.h"

namespace relaysync {
namespace {

using ::relaysync::testing::Entries;
using ::relaysync::testing::SharedRedisServer;
using ::testing::HasSubstr;

constexpr int64_t kT = 1700000000;
constexpr int64_t kNone = INT64_MIN;

class RedisMigrateTest : public ::testing::Test {
 protected:
  RedisMigrateTest() {
    static int n = 0;
    options_.address = SharedRedisServer().address();
    options_.prefix = absl::StrCat("migrate-", getpid(), "-", ++n);
  }

  std::string Key(const std::string& name) const {
    return absl::StrCat("{", options_.prefix, "}:", name);
  }
  std::string Redis(const std::vector<std::string>& argv) const {
    return SharedRedisServer().Command(argv);
  }
  // One record as the older relaysync kept it: "login:delete" in {p}:rec
  // and its entry in the index its state called for.
  void OldRecord(const std::string& address, int64_t login, int64_t del) {
    Redis({"HSET", Key("rec"), address, absl::StrCat(login, ":", del)});
    if (login > del) {
      Redis({"ZADD", Key("by_login"), absl::StrCat(login), address});
    } else {
      Redis({"ZADD", Key("by_delete"), absl::StrCat(del), address});
    }
  }
  void OldMeta(int version, int count) {
    Redis({"HSET", Key("meta"), "epoch", "e1", "version", absl::StrCat(version),
           "count", absl::StrCat(count), "master", ""});
  }

  RedisStoreOptions options_;
};

TEST_F(RedisMigrateTest, OldLayoutIsRefusedUntilMigratedThenKeepsEverything) {
  OldRecord("10.0.0.1", kT, 0);            // present
  OldRecord("10.0.0.2", kT + 1, kT + 5);   // deleted
  OldRecord("10.0.0.3", kT + 2, kT + 2);   // expired
  OldRecord("10.0.0.4", kT + 10, kT + 3);  // back after a delete
  OldRecord("10.0.0.6", kT, kT + 7);       // deleted, but ...
  Redis({"ZADD", Key("by_login"), absl::StrCat(kT), "10.0.0.6"});  // stale
  Redis({"ZADD", Key("by_login"), absl::StrCat(kT), "10.0.0.5"});  // no record
  Redis({"HSET", Key("who"), "10.0.0.1", absl::StrCat(kT, ":3:mx1alice")});
  Redis({"XADD", Key("log"), "4-1", "v", "1", "a",
         "10.0.0.1 10.0.0.2 10.0.0.2 10.0.0.4", "t",
         absl::StrCat(kT, " ", kT + 1, " 0 ", kT + 10), "r", "0010"});
  OldMeta(4, 2);

  absl::StatusOr<std::unique_ptr<RedisStore>> refused =
      RedisStore::Open(options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("--migrate-redis"));
  EXPECT_THAT(refused.status().message(), HasSubstr(Key("rec")));

  absl::StatusOr<RedisStore::MigrationReport> report =
      RedisStore::MigrateLayout(options_, /*chunk=*/2);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->migrated);
  EXPECT_EQ(report->records, 5);
  // 10.0.0.6's stale entry out of by_login; 10.0.0.5 removed.
  EXPECT_EQ(report->fixed, 2);
  // An older coordinator now fails before it writes anything.
  EXPECT_THAT(Redis({"HMGET", Key("rec"), "10.0.0.1"}), HasSubstr("WRONGTYPE"));
  EXPECT_EQ(Redis({"EXISTS", Key("rec_v1")}), "0");

  absl::StatusOr<std::unique_ptr<RedisStore>> opened =
      RedisStore::Open(options_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  RedisStore& store = **opened;
  EXPECT_EQ(store.Epoch(), "e1");  // agents go on with deltas
  EXPECT_EQ(*store.Version(), 4u);
  EXPECT_EQ(*store.EntryCount(), 2);
  EXPECT_EQ(Entries(store), (std::map<std::string, int64_t>{
                                {"10.0.0.1", kT}, {"10.0.0.4", kT + 10}}));
  absl::StatusOr<std::vector<StateChange>> log = store.ChangesSince(0, 10);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->size(), 4u);
  absl::StatusOr<std::vector<AttributedEntry>> attributed =
      store.ReadAttributed();
  ASSERT_TRUE(attributed.ok()) << attributed.status();
  for (const AttributedEntry& e : *attributed) {
    if (e.address == "10.0.0.1") {
      EXPECT_EQ(e.who.user, "alice");
    }
  }

  // Tombstones hold: logins at or before their delete times change nothing.
  absl::StatusOr<MutationResult> merged =
      store.MergeLogins({{"10.0.0.2", kT + 5},
                         {"10.0.0.3", kT + 2},
                         {"10.0.0.6", kT + 7},
                         {"10.0.0.1", kT}},
                        kNone);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(merged->changes.empty());
  merged = store.MergeLogins(
      {{"10.0.0.2", kT + 6}, {"10.0.0.6", kT + 8}, {"10.0.0.5", kT}}, kNone);
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->changes.size(), 3u);
  EXPECT_EQ(merged->changes[0].version, 5u);
  EXPECT_EQ(*store.EntryCount(), 5);

  // Once is enough; again does nothing.
  report = RedisStore::MigrateLayout(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->migrated);
  EXPECT_EQ(*store.EntryCount(), 5);
}

TEST_F(RedisMigrateTest, ManyRecordsMoveInBoundedSteps) {
  constexpr int kRecords = 3000;  // past the listpack sizes: real SCANs
  std::vector<std::string> rec = {"HSET", Key("rec")};
  std::vector<std::string> login = {"ZADD", Key("by_login")};
  std::vector<std::string> del = {"ZADD", Key("by_delete")};
  for (int i = 0; i < kRecords; ++i) {
    const std::string address = absl::StrCat("10.1.", i / 256, ".", i % 256);
    const bool present = i % 3 != 0;
    rec.push_back(address);
    rec.push_back(present ? absl::StrCat(kT + i, ":0")
                          : absl::StrCat(kT, ":", kT + i));
    (present ? login : del).push_back(absl::StrCat(kT + i));
    (present ? login : del).push_back(address);
  }
  Redis(rec);
  Redis(login);
  Redis(del);
  OldMeta(0, 2000);

  absl::StatusOr<RedisStore::MigrationReport> report =
      RedisStore::MigrateLayout(options_, /*chunk=*/100);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records, kRecords);
  EXPECT_EQ(report->fixed, 0);
  absl::StatusOr<std::unique_ptr<RedisStore>> store =
      RedisStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->EntryCount(), 2000);
  EXPECT_EQ(Entries(**store).size(), 2000u);
  EXPECT_EQ(Redis({"ZCARD", Key("by_delete")}), "1000");
}

TEST_F(RedisMigrateTest, AnInterruptedMigrationIsRefusedAndRunsAgain) {
  OldRecord("10.0.0.1", kT, 0);
  OldRecord("10.0.0.2", kT, kT + 1);
  OldMeta(2, 1);
  // As the first step leaves it: the hash moved aside, the fence in place.
  Redis({"RENAME", Key("rec"), Key("rec_v1")});
  Redis({"SET", Key("rec"), "fence"});
  absl::StatusOr<std::unique_ptr<RedisStore>> refused =
      RedisStore::Open(options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  absl::StatusOr<RedisStore::MigrationReport> report =
      RedisStore::MigrateLayout(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records, 2);
  absl::StatusOr<std::unique_ptr<RedisStore>> store =
      RedisStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Entries(**store),
            (std::map<std::string, int64_t>{{"10.0.0.1", kT}}));
  EXPECT_TRUE(
      (*store)->MergeLogins({{"10.0.0.2", kT + 1}}, kNone)->changes.empty());
}

TEST_F(RedisMigrateTest, ADamagedRecordStopsTheMigrationNamingIt) {
  OldRecord("10.0.0.1", kT, 0);
  Redis({"HSET", Key("rec"), "10.0.0.9", "junk"});
  OldMeta(1, 1);
  absl::StatusOr<RedisStore::MigrationReport> report =
      RedisStore::MigrateLayout(options_);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(report.status())) << report.status();
  EXPECT_THAT(report.status().message(), HasSubstr("10.0.0.9"));
  // Nothing dropped: the records wait, and the store stays refused.
  EXPECT_EQ(Redis({"HLEN", Key("rec_v1")}), "2");
  EXPECT_FALSE(RedisStore::Open(options_).ok());
}

}  // namespace
}  // namespace relaysync
