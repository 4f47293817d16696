// A reader process behaving like sendmail (flock LOCK_SH around each lookup,
// re-open when the mtime moves) runs while RelayersDb applies 10,000
// changes, with the mtime held within MapOptions::max_mtime_ahead (2 s) of
// the clock, and again while the agent's Materializer applies snapshots:
// the first into the empty map (RelayersDb::Fill, a new file renamed into
// place), the others in place, each written in many locked parts. The
// reader must never see an error, a torn value or a value going back, and
// must see the final state.
#include <db.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/materializer.h"
#include "backends/map/relayers_db.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

constexpr int kKeys = 100;
constexpr int kChanges = 10000;
constexpr int kBatch = 10;
constexpr int64_t kBase = 1000000000;

std::string Key(int i) { return absl::StrCat("10.0.", i / 256, ".", i % 256); }

// Child-side exit codes.
enum ReaderExit {
  kReaderOk = 0,
  kReaderDbError = 10,
  kReaderTorn = 11,
  kReaderWentBack = 12,
  kReaderWrongFinal = 13,
  kReaderTimeout = 14,
};

// Runs in the forked child. `go` is closed by the parent when the writer is
// done; after that the reader does one last pass and checks it.
int ReaderMain(const std::string& path, int done_fd) {
  int64_t last_seen[kKeys];
  for (int64_t& v : last_seen) v = -1;
  DB* db = nullptr;
  time_t opened_mtime = -1;
  // Bounded, with room for the snapshot test under ASan (128 s seen).
  const time_t give_up = time(nullptr) + 400;
  long passes = 0;
  for (bool final_pass = false;; ++passes) {
    if (!final_pass) {
      char c;
      ssize_t n = read(done_fd, &c, 1);  // non-blocking
      if (n == 0) final_pass = true;
    }
    if (time(nullptr) > give_up || passes > 5000000) return kReaderTimeout;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0 || flock(fd, LOCK_SH) != 0) return kReaderDbError;
    struct stat st;
    if (fstat(fd, &st) != 0) return kReaderDbError;
    if (db == nullptr || st.st_mtime != opened_mtime) {
      if (db != nullptr) db->close(db, 0);
      if (db_create(&db, nullptr, 0) != 0) return kReaderDbError;
      if (db->open(db, nullptr, path.c_str(), nullptr, DB_HASH, DB_RDONLY, 0) !=
          0) {
        return kReaderDbError;
      }
      opened_mtime = st.st_mtime;
    }
    for (int i = 0; i < kKeys; ++i) {
      std::string key = Key(i);
      DBT k, v;
      std::memset(&k, 0, sizeof(k));
      std::memset(&v, 0, sizeof(v));
      k.data = key.data();
      k.size = key.size();
      int err = db->get(db, nullptr, &k, &v, 0);
      if (err == DB_NOTFOUND) {
        if (last_seen[i] >= 0) return kReaderWentBack;
        continue;
      }
      if (err != 0) return kReaderDbError;
      int64_t value;
      std::string text(static_cast<char*>(v.data), v.size);
      if (text.size() != 10 || !absl::SimpleAtoi(text, &value) ||
          value < kBase || value >= kBase + kChanges) {
        return kReaderTorn;
      }
      if (value < last_seen[i]) return kReaderWentBack;
      last_seen[i] = value;
    }
    flock(fd, LOCK_UN);
    close(fd);
    if (final_pass) break;
  }
  db->close(db, 0);
  // Final state: change c wrote key c % kKeys with kBase + c.
  for (int i = 0; i < kKeys; ++i) {
    if (last_seen[i] != kBase + (kChanges - kKeys) + i)
      return kReaderWrongFinal;
  }
  return kReaderOk;
}

// ReaderMain in a child process, until Finish() tells it the writer is done.
class ReaderProcess {
 public:
  bool Start(const std::string& path) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) != 0) return false;
    child_ = fork();
    if (child_ < 0) return false;
    if (child_ == 0) {
      close(fds[1]);
      _exit(ReaderMain(path, fds[0]));
    }
    close(fds[0]);
    done_ = fds[1];
    return true;
  }
  // The reader's exit code (ReaderExit), or -1.
  int Finish() {
    close(done_);  // tells the reader the writer is done
    int status = 0;
    if (waitpid(child_, &status, 0) != child_ || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

 private:
  pid_t child_ = -1;
  int done_ = -1;
};

// Both write modes: synced to disk (vsmtprelay) and handed to the kernel
// only (the agent); readers must not be able to tell them apart.
class RelayersDbConcurrencyTest : public ::testing::TestWithParam<bool> {};

TEST_P(RelayersDbConcurrencyTest, SendmailStyleReaderNeverSeesTornState) {
  testing::ScratchDir dir;
  const std::string path = dir.File("relayers.db");
  MapOptions options;
  options.sync_to_disk = GetParam();
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, RelayersDb::Mode::kReadWrite, options);
  ASSERT_TRUE(db.ok()) << db.status();

  ReaderProcess reader;
  ASSERT_TRUE(reader.Start(path));

  for (int c = 0; c < kChanges; c += kBatch) {
    MapBatch batch;
    for (int j = c; j < c + kBatch; ++j) {
      // Every tenth change deletes and re-adds, so deletes race too.
      if (j % 10 == 3) batch.Delete(Key(j % kKeys));
      batch.Put(Key(j % kKeys), kBase + j);
    }
    absl::StatusOr<ApplyResult> r = (*db)->Apply(batch);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // 1,000 writes within a second or two hold the mtime at
  // max_mtime_ahead: the last ones reach an open reader once the clock
  // lets SignalWrites move it (the agent calls it several times a second).
  for (int i = 0; i < 50 && (*db)->unsignalled(); ++i) {
    ASSERT_TRUE((*db)->SignalWrites().ok());
    if ((*db)->unsignalled()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_FALSE((*db)->unsignalled());
  EXPECT_EQ(reader.Finish(), kReaderOk) << "reader exit code (see ReaderExit)";
}

// 100 snapshots of 10,000 entries (the reader's 100 keys and 9,900 others),
// each raising every value: snapshot s gives reader key i kBase + 100 s + i.
TEST_P(RelayersDbConcurrencyTest, SendmailStyleReaderThroughSnapshots) {
  testing::ScratchDir dir;
  const std::string path = dir.File("relayers.db");
  MapOptions options;
  options.sync_to_disk = GetParam();
  options.max_lock_hold = absl::Milliseconds(1);  // many parts a snapshot
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, RelayersDb::Mode::kReadWrite, options);
  ASSERT_TRUE(db.ok()) << db.status();
  Materializer materializer(db->get(), KeyStyle::kSendmail, SystemClock::Get());
  ASSERT_TRUE(materializer.Load().ok());

  ReaderProcess reader;
  ASSERT_TRUE(reader.Start(path));

  struct stat first;
  ASSERT_EQ(stat(path.c_str(), &first), 0);
  constexpr int kSnapshots = kChanges / kKeys;
  for (int s = 0; s < kSnapshots; ++s) {
    std::vector<StateEntry> entries;
    for (int i = 0; i < kKeys; ++i) {
      entries.push_back({Key(i), kBase + s * kKeys + i});
    }
    for (int i = 0; i < 9900; ++i) {
      entries.push_back(
          {absl::StrCat("10.1.", i / 256, ".", i % 256), kBase + s});
    }
    ASSERT_TRUE(materializer.ApplySnapshot(entries).ok());
    if (s == 0) {
      struct stat filled;
      ASSERT_EQ(stat(path.c_str(), &filled), 0);
      EXPECT_NE(filled.st_ino, first.st_ino)
          << "the first snapshot went to Fill";
    }
  }
  for (int i = 0; i < 50 && (*db)->unsignalled(); ++i) {
    ASSERT_TRUE(materializer.SignalWrites().ok());
    if ((*db)->unsignalled()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_FALSE((*db)->unsignalled());
  EXPECT_GT(materializer.stats().batches, 0u);
  EXPECT_EQ(reader.Finish(), kReaderOk) << "reader exit code (see ReaderExit)";
}

INSTANTIATE_TEST_SUITE_P(SyncModes, RelayersDbConcurrencyTest,
                         ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SyncToDisk" : "KernelOnly";
                         });

}  // namespace
}  // namespace relaysync
