#include "backends/map/relayers_db.h"

#include <db.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct RawRecord {
  std::string key, value;
  bool operator==(const RawRecord& o) const {
    return key == o.key && value == o.value;
  }
};

// Reads the file with Berkeley DB directly, bytes as stored.
std::vector<RawRecord> RawRecords(const std::string& path, DBTYPE type) {
  DB* db = nullptr;
  EXPECT_EQ(db_create(&db, nullptr, 0), 0);
  EXPECT_EQ(db->open(db, nullptr, path.c_str(), nullptr, type, DB_RDONLY, 0),
            0);
  DBC* c = nullptr;
  db->cursor(db, nullptr, &c, 0);
  DBT k, v;
  std::memset(&k, 0, sizeof(k));
  std::memset(&v, 0, sizeof(v));
  std::vector<RawRecord> out;
  while (c->get(c, &k, &v, DB_NEXT) == 0) {
    out.push_back({std::string(static_cast<char*>(k.data), k.size),
                   std::string(static_cast<char*>(v.data), v.size)});
  }
  c->close(c);
  db->close(db, 0);
  std::sort(out.begin(), out.end(), [](const RawRecord& a, const RawRecord& b) {
    return a.key < b.key;
  });
  return out;
}

std::unique_ptr<RelayersDb> OpenRw(const std::string& path,
                                   const MapOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, RelayersDb::Mode::kReadWrite, options);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

class RelayersDbTest : public ::testing::Test {
 protected:
  testing::ScratchDir dir_;
  std::string path_ = dir_.File("relayers.db");
};

TEST_F(RelayersDbTest, StoresKeysWithoutNulAndDecimalValues) {
  auto db = OpenRw(path_);
  MapBatch batch;
  batch.Put("10.1.2.3", 1764166574);
  batch.Put("fd00:db8::5", 7);
  ASSERT_TRUE(db->Apply(batch).ok());
  EXPECT_THAT(RawRecords(path_, DB_HASH),
              ElementsAre(RawRecord{"10.1.2.3", "1764166574"},
                          RawRecord{"fd00:db8::5", "7"}));
  EXPECT_EQ(*db->Get("10.1.2.3"), "1764166574");
}

TEST_F(RelayersDbTest, NulTerminatedKeysOption) {
  MapOptions options;
  options.nul_terminated_keys = true;
  auto db = OpenRw(path_, options);
  MapBatch batch;
  batch.Put("10.1.2.3", 5);
  ASSERT_TRUE(db->Apply(batch).ok());
  EXPECT_THAT(RawRecords(path_, DB_HASH),
              ElementsAre(RawRecord{std::string("10.1.2.3\0", 9), "5"}));
  EXPECT_EQ(*db->Get("10.1.2.3"), "5");
  absl::StatusOr<std::vector<MapEntry>> all = db->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, "10.1.2.3");
}

TEST_F(RelayersDbTest, BtreeOption) {
  MapOptions options;
  options.type = MapOptions::Type::kBtree;
  auto db = OpenRw(path_, options);
  MapBatch batch;
  batch.Put("10.1.2.3", 5);
  ASSERT_TRUE(db->Apply(batch).ok());
  EXPECT_THAT(RawRecords(path_, DB_BTREE),
              ElementsAre(RawRecord{"10.1.2.3", "5"}));
  // The same file is not accepted as a hash map.
  absl::StatusOr<std::unique_ptr<RelayersDb>> as_hash =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
  ASSERT_FALSE(as_hash.ok());
  EXPECT_THAT(as_hash.status().message(),
              HasSubstr("not a Berkeley DB hash file"));
}

TEST_F(RelayersDbTest, BatchAppliesInOrderAndReportsMissingDeletes) {
  auto db = OpenRw(path_);
  MapBatch batch;
  batch.Put("10.0.0.1", 1);
  batch.Put("10.0.0.2", 2);
  batch.Delete("10.0.0.1");
  batch.Delete("10.0.0.9");
  batch.Put("10.0.0.2", 3);
  absl::StatusOr<ApplyResult> r = db->Apply(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->written, 4u);
  EXPECT_THAT(r->missing, ElementsAre("10.0.0.9"));
  EXPECT_THAT(RawRecords(path_, DB_HASH),
              ElementsAre(RawRecord{"10.0.0.2", "3"}));
}

TEST_F(RelayersDbTest, WriteMovesMtimeForwardEvenWithinOneSecond) {
  FakeClock clock(absl::FromUnixSeconds(2000000000));
  MapOptions options;
  options.clock = &clock;
  auto db = OpenRw(path_, options);
  struct stat st;
  int64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    MapBatch batch;
    batch.Put("10.0.0.1", i);
    ASSERT_TRUE(db->Apply(batch).ok());
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_GT(st.st_mtim.tv_sec, last);
    last = st.st_mtim.tv_sec;
  }
  // max(now, previous + 1): the first write takes "now", the next two
  // the following seconds because the fake clock never moved.
  EXPECT_EQ(last, 2000000002);
  clock.Set(absl::FromUnixSeconds(2000000100));
  MapBatch batch;
  batch.Put("10.0.0.1", 9);
  ASSERT_TRUE(db->Apply(batch).ok());
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000100);
}

TEST_F(RelayersDbTest, MtimeRunsAheadOfTheClockOnlyUpToTheBound) {
  FakeClock clock(absl::FromUnixSeconds(2000000000));
  MapOptions options;
  options.clock = &clock;
  options.max_mtime_ahead = absl::Seconds(2);
  auto db = OpenRw(path_, options);
  struct stat st;
  std::vector<int64_t> mtimes;
  for (int i = 0; i < 5; ++i) {
    MapBatch batch;
    batch.Put("10.0.0.1", i);
    ASSERT_TRUE(db->Apply(batch).ok());
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    mtimes.push_back(st.st_mtim.tv_sec - 2000000000);
  }
  EXPECT_THAT(mtimes, ElementsAre(0, 1, 2, 2, 2));
  EXPECT_TRUE(db->unsignalled());
  // Not before the clock has moved on: the bound holds.
  ASSERT_TRUE(db->SignalWrites().ok());
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000002);
  clock.Set(absl::FromUnixSeconds(2000000001));
  ASSERT_TRUE(db->SignalWrites().ok());
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000003);
  EXPECT_FALSE(db->unsignalled());
  // Nothing owed: nothing moves.
  clock.Set(absl::FromUnixSeconds(2000000010));
  ASSERT_TRUE(db->SignalWrites().ok());
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000003);
}

// Once the mtime's seconds are at the bound, sendmail's sessions wait for
// SignalWrites, but a RelayersDb that has the map open (another agent's
// tool, vsmtprelay, the benches) sees every write at once: the nanoseconds
// move with each. They used to stay at zero, which held such a reader up to
// a second behind at more than one write a second.
TEST_F(RelayersDbTest, AnOpenReaderSeesEveryWriteWhileTheMtimeIsAtTheBound) {
  FakeClock clock(absl::FromUnixSeconds(2000000000));
  MapOptions options;
  options.clock = &clock;
  options.max_mtime_ahead = absl::Seconds(2);
  auto writer = OpenRw(path_, options);
  MapBatch batch;
  batch.Put("10.0.0.1", 1);
  ASSERT_TRUE(writer->Apply(batch).ok());
  absl::StatusOr<std::unique_ptr<RelayersDb>> reader =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly, options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::set<std::pair<int64_t, int64_t>> mtimes;
  for (int i = 0; i < 6; ++i) {
    batch.Clear();
    batch.Put("10.0.0.1", 100 + i);  // same key: the file keeps its size
    ASSERT_TRUE(writer->Apply(batch).ok());
    absl::StatusOr<std::string> seen = (*reader)->Get("10.0.0.1");
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(*seen, absl::StrCat(100 + i)) << "write " << i;
    struct stat st;
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_LE(st.st_mtim.tv_sec, 2000000002);
    mtimes.insert({st.st_mtim.tv_sec, st.st_mtim.tv_nsec});
  }
  EXPECT_EQ(mtimes.size(), 6u);
  EXPECT_TRUE(writer->unsignalled());
}

// Ten minutes at 50 writes a second (the agent's expiry timer calling
// SignalWrites every 250 ms), on a fake clock: the mtime never runs more
// than the default bound (2 s) ahead, and every write is signalled to
// sessions that had the map open (the mtime passes the one they saw) within
// 2 s of it.
TEST_F(RelayersDbTest,
       MtimeStaysWithinTwoSecondsOfTheClockAtFiftyWritesASecond) {
  const int64_t start = 2000000000;
  FakeClock clock(absl::FromUnixSeconds(start));
  MapOptions options;
  options.clock = &clock;
  options.sync_to_disk = false;
  auto db = OpenRw(path_, options);
  ASSERT_NE(db, nullptr);
  struct stat st;
  auto mtime = [&] {
    EXPECT_EQ(stat(path_.c_str(), &st), 0);
    return static_cast<int64_t>(st.st_mtim.tv_sec);
  };
  int64_t max_ahead = 0;
  absl::Duration longest_unsignalled;
  // The oldest write not yet visible to a session that opened the map
  // just before it: when it was made and the mtime that session saw.
  absl::Time owed_since = absl::InfiniteFuture();
  int64_t owed_mtime = 0;
  const int kWrites = 10 * 60 * 50;
  for (int i = 0; i < kWrites; ++i) {
    const int64_t seen = mtime();
    MapBatch batch;
    batch.Put(absl::StrCat("10.0.", i % 200, ".1"), start + i / 50);
    ASSERT_TRUE(db->Apply(batch).ok());
    if (mtime() <= seen && owed_since == absl::InfiniteFuture()) {
      owed_since = clock.Now();
      owed_mtime = seen;
    }
    clock.Advance(absl::Milliseconds(20));
    if (i % 12 == 0) {  // every 240 ms
      ASSERT_TRUE(db->SignalWrites().ok());
    }
    const int64_t now = clock.NowSeconds(), m = mtime();
    max_ahead = std::max(max_ahead, m - now);
    if (m > owed_mtime && owed_since != absl::InfiniteFuture()) {
      longest_unsignalled =
          std::max(longest_unsignalled, clock.Now() - owed_since);
      owed_since = absl::InfiniteFuture();
    }
  }
  // After the last write: the timer alone signals it.
  for (int i = 0; i < 8 && owed_since != absl::InfiniteFuture(); ++i) {
    clock.Advance(absl::Milliseconds(250));
    ASSERT_TRUE(db->SignalWrites().ok());
    if (mtime() > owed_mtime) {
      longest_unsignalled =
          std::max(longest_unsignalled, clock.Now() - owed_since);
      owed_since = absl::InfiniteFuture();
    }
  }
  EXPECT_LE(max_ahead, 2);
  EXPECT_GE(max_ahead, 1);  // the bump was needed: more than a write a second
  EXPECT_LE(longest_unsignalled, absl::Seconds(2));
  EXPECT_EQ(owed_since, absl::InfiniteFuture());
}

// Fill: a new file, renamed over the empty map, with the map's mode; a
// session that has the old file open sees its mtime move, so it reopens.
TEST_F(RelayersDbTest, FillReplacesAnEmptyMapAndSignalsTheOldFile) {
  auto db = OpenRw(path_);
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
  struct stat before, old_after, now;
  int old_fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(old_fd, 0);
  ASSERT_EQ(fstat(old_fd, &before), 0);
  MapBatch batch;
  for (int i = 0; i < 3000; ++i) {
    batch.Put(absl::StrCat("10.0.", i / 256, ".", i % 256), 1700000000 + i);
  }
  absl::StatusOr<bool> filled = db->Fill(batch);
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_TRUE(*filled);
  ASSERT_EQ(fstat(old_fd, &old_after), 0);
  close(old_fd);
  EXPECT_GT(old_after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(stat(path_.c_str(), &now), 0);
  EXPECT_NE(now.st_ino, before.st_ino);
  EXPECT_EQ(now.st_mode & 07777, 0640u);
  EXPECT_EQ(now.st_uid, before.st_uid);
  EXPECT_EQ(*db->Get("10.0.11.183"), "1700002999");
  absl::StatusOr<std::vector<MapEntry>> all = db->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3000u);
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "relayers.db");
  }
  EXPECT_EQ(files, 1);
  // Not empty any more: Fill declines, and changes nothing.
  MapBatch more;
  more.Put("10.9.9.9", 1);
  filled = db->Fill(more);
  ASSERT_TRUE(filled.ok());
  EXPECT_FALSE(*filled);
  EXPECT_FALSE(db->Get("10.9.9.9").ok());
}

TEST_F(RelayersDbTest, FillDeclinesAMapReachedThroughASymlink) {
  const std::string real = dir_.File("real.db");
  {
    auto db = OpenRw(real);
    ASSERT_NE(db, nullptr);
  }
  ASSERT_EQ(symlink(real.c_str(), path_.c_str()), 0);
  auto db = OpenRw(path_);
  ASSERT_NE(db, nullptr);
  MapBatch batch;
  batch.Put("10.0.0.1", 5);
  absl::StatusOr<bool> filled = db->Fill(batch);
  ASSERT_TRUE(filled.ok());
  EXPECT_FALSE(*filled) << "the symlink would be replaced by a file";
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(RelayersDbTest, BatchThatChangesNothingLeavesFileUntouched) {
  auto db = OpenRw(path_);
  struct stat before, after;
  ASSERT_EQ(stat(path_.c_str(), &before), 0);
  MapBatch batch;
  batch.Delete("10.0.0.1");
  absl::StatusOr<ApplyResult> r = db->Apply(batch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->written, 0u);
  ASSERT_EQ(stat(path_.c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST_F(RelayersDbTest, SeesChangesMadeByAnotherHandle) {
  auto reader = OpenRw(path_);
  auto writer = OpenRw(path_);
  EXPECT_FALSE(reader->Get("10.0.0.1").ok());
  MapBatch batch;
  batch.Put("10.0.0.1", 42);
  ASSERT_TRUE(writer->Apply(batch).ok());
  EXPECT_EQ(*reader->Get("10.0.0.1"), "42");
  batch.Clear();
  batch.Put("10.0.0.1", 43);
  ASSERT_TRUE(writer->Apply(batch).ok());
  EXPECT_EQ(*reader->Get("10.0.0.1"), "43");
}

TEST_F(RelayersDbTest, WritesWithoutDiskSyncAreWholeForOtherReaders) {
  MapOptions options;
  options.sync_to_disk = false;
  auto writer = OpenRw(path_, options);
  // Enough keys to split hash buckets, so pages beyond the first are dirty.
  MapBatch batch;
  for (int i = 0; i < 5000; ++i) {
    batch.Put(absl::StrCat("10.1.", i / 256, ".", i % 256), 1000 + i);
  }
  ASSERT_TRUE(writer->Apply(batch).ok());
  batch.Clear();
  batch.Delete("10.1.0.7");
  batch.Put("10.1.0.8", 5);
  ASSERT_TRUE(writer->Apply(batch).ok());
  // A raw Berkeley DB open reads the file alone, not the writer's cache.
  std::vector<RawRecord> raw = RawRecords(path_, DB_HASH);
  ASSERT_EQ(raw.size(), 4999u);
  auto reader = OpenRw(path_);
  EXPECT_FALSE(reader->Get("10.1.0.7").ok());
  EXPECT_EQ(*reader->Get("10.1.0.8"), "5");
  EXPECT_EQ(*reader->Get("10.1.19.135"), "5999");
}

TEST_F(RelayersDbTest, RemoveAtOrBeforeKeepsNewerAndUnreadableEntries) {
  auto db = OpenRw(path_);
  MapBatch batch;
  batch.Put("10.0.0.1", 100);
  batch.Put("10.0.0.2", 200);
  batch.Put("10.0.0.3", 201);
  ASSERT_TRUE(db->Apply(batch).ok());
  {
    // An entry some other tool wrote with a non-numeric value.
    DB* raw;
    ASSERT_EQ(db_create(&raw, nullptr, 0), 0);
    ASSERT_EQ(raw->open(raw, nullptr, path_.c_str(), nullptr, DB_HASH, 0, 0),
              0);
    DBT k, v;
    std::memset(&k, 0, sizeof(k));
    std::memset(&v, 0, sizeof(v));
    k.data = const_cast<char*>("10.0.0.4");
    k.size = 8;
    v.data = const_cast<char*>("OK");
    v.size = 2;
    ASSERT_EQ(raw->put(raw, nullptr, &k, &v, 0), 0);
    raw->close(raw, 0);
  }
  absl::StatusOr<std::vector<MapEntry>> removed = db->RemoveAtOrBefore(200);
  ASSERT_TRUE(removed.ok()) << removed.status();
  std::vector<std::string> keys;
  for (const MapEntry& e : *removed) keys.push_back(e.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_THAT(keys, ElementsAre("10.0.0.1", "10.0.0.2"));
  EXPECT_THAT(
      RawRecords(path_, DB_HASH),
      ElementsAre(RawRecord{"10.0.0.3", "201"}, RawRecord{"10.0.0.4", "OK"}));
}

TEST_F(RelayersDbTest, MissingFileIsNotFoundForReadOnly) {
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(db.status().message(), HasSubstr(path_));
  EXPECT_NE(access(path_.c_str(), F_OK), 0) << "read-only open created it";
}

TEST_F(RelayersDbTest, RefusesFileThatIsNotBerkeleyDbAndLeavesItAlone) {
  const std::string text = "10.1.2.3\t12345\nthis is a text file\n";
  testing::WriteFile(path_, text);
  for (auto mode :
       {RelayersDb::Mode::kReadOnly, RelayersDb::Mode::kReadWrite}) {
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(path_, mode);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.status().message(), HasSubstr(path_));
    EXPECT_THAT(db.status().message(),
                HasSubstr("not a Berkeley DB hash file"));
  }
  EXPECT_EQ(testing::ReadFile(path_), text);
}

TEST_F(RelayersDbTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) {
    // root reads anything; a directory in place of the file still must
    // give an error that names the path.
    ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.status().message(), HasSubstr(path_));
    return;
  }
  OpenRw(path_);
  ASSERT_EQ(chmod(path_.c_str(), 0), 0);
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(db.status().message(), HasSubstr(path_));
}

TEST_F(RelayersDbTest, GivesUpWhenLockedTooLong) {
  auto db = OpenRw(path_);
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_SH), 0);  // like sendmail mid-lookup
  MapOptions options;
  options.lock_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<RelayersDb>> writer =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadWrite, options);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(writer.status().message(), HasSubstr(path_));
  EXPECT_THAT(writer.status().message(), HasSubstr("locked"));
  // Readers share the lock.
  EXPECT_TRUE(db->ReadAll().ok());
  close(fd);
}

TEST_F(RelayersDbTest, ZeroLengthFileIsAnEmptyMap) {
  testing::WriteFile(path_, "");
  struct stat before;
  ASSERT_EQ(stat(path_.c_str(), &before), 0);
  absl::StatusOr<std::unique_ptr<RelayersDb>> ro =
      RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_THAT(*(*ro)->ReadAll(), IsEmpty());
  auto rw = OpenRw(path_);
  MapBatch batch;
  batch.Put("10.0.0.1", 1);
  ASSERT_TRUE(rw->Apply(batch).ok());
  struct stat after;
  ASSERT_EQ(stat(path_.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "formatted in place";
  EXPECT_EQ(*(*ro)->Get("10.0.0.1"), "1");
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST_F(RelayersDbTest, ANewMapIs0644WhateverTheUmask) {
  for (mode_t mask : {0000, 0022, 0077, 0277}) {
    const std::string path = dir_.File(absl::StrCat("map-", mask, ".db"));
    const mode_t old = umask(mask);
    auto db = OpenRw(path);
    umask(old);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(ModeOf(path), 0644u) << "umask " << mask;
  }
}

TEST_F(RelayersDbTest, AWorldWritableMapIsMadeOwnerWritableAtOpen) {
  OpenRw(path_);
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  auto db = OpenRw(path_);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(ModeOf(path_), 0664u);
}

TEST_F(RelayersDbTest, AMapMadeWorldWritableLaterIsFixedBeforeTheNextWrite) {
  auto db = OpenRw(path_);
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(chmod(path_.c_str(), 0646), 0);
  MapBatch batch;
  batch.Put("192.0.2.1", 1000);
  ASSERT_TRUE(db->Apply(batch).ok());
  EXPECT_EQ(ModeOf(path_), 0644u);
}

TEST_F(RelayersDbTest, AReadOnlyOpenLeavesTheModeAlone) {
  OpenRw(path_);
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  ASSERT_TRUE(RelayersDb::Open(path_, RelayersDb::Mode::kReadOnly).ok());
  EXPECT_EQ(ModeOf(path_), 0666u);
}

}  // namespace
}  // namespace relaysync
