// EmbeddedStore: the conformance suite, plus what only a local durable store
// has: persistence across reopen and SIGKILL, the directory lock, concurrent
// callers, its time indexes and its on-disk format.
#include "backends/store/embedded_store.h"

#include <db.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/store/embedded_store_codec.h"
#include "backends/store/relay_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"
#include "tests/backends/store/store_conformance_test.h"

namespace relaysync {
namespace {

using ::relaysync::testing::kByAdmin;
using ::relaysync::testing::ScratchDir;
using ::relaysync::testing::StoreConformanceTest;
using ::relaysync::testing::StoreFactory;
using ::testing::HasSubstr;

constexpr int64_t kNone = INT64_MIN;
constexpr int64_t kT = 1700000000;

StoreFactory EmbeddedFactory() {
  return {
      "Embedded",
      [](const std::string& scratch_dir,
         size_t change_log_limit) -> absl::StatusOr<std::unique_ptr<Store>> {
        EmbeddedStoreOptions options;
        options.data_dir = scratch_dir + "/store";
        options.change_log_limit = change_log_limit;
        absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
            EmbeddedStore::Open(options);
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      }};
}

INSTANTIATE_TEST_SUITE_P(Embedded, StoreConformanceTest,
                         ::testing::Values(EmbeddedFactory()),
                         ::relaysync::testing::StoreFactoryName);

using ::relaysync::testing::Addr;
using ::relaysync::testing::Entries;

std::unique_ptr<EmbeddedStore> OpenOrFail(const std::string& dir) {
  EmbeddedStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(EmbeddedStoreTest, CreatesThePrivateDataDir) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(store->Name(), "embedded:" + dir);
}

TEST(EmbeddedStoreTest, MissingParentIsAnErrorNamingTheDir) {
  ScratchDir scratch;
  const std::string dir = scratch.File("no/such/store");
  EmbeddedStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir));
}

TEST(EmbeddedStoreTest, SurvivesReopen) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::string epoch;
  uint64_t version = 0;
  std::map<std::string, int64_t> entries;
  size_t changes = 0;
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, kNone).ok());
    ASSERT_TRUE(store->Put(Addr(3), kT + 5, kByAdmin).ok());
    ASSERT_TRUE(store->Delete({Addr(1)}, kT + 1).ok());
    epoch = store->Epoch();
    version = *store->Version();
    entries = Entries(*store);
    changes = store->ChangesSince(0, 100)->size();
  }
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Epoch(), epoch);
  EXPECT_EQ(*store->Version(), version);
  EXPECT_EQ(Entries(*store), entries);
  EXPECT_EQ(*store->EntryCount(), 2);
  EXPECT_EQ(store->ChangesSince(0, 100)->size(), changes);
  // The deletion still blocks the old login after the restart.
  EXPECT_TRUE(store->MergeLogins({{Addr(1), kT}}, kNone)->changes.empty());
  absl::StatusOr<MutationResult> r = store->MergeLogins({{Addr(4), kT}}, kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].version, version + 1);
}

// ChangesSince answers the latest changes from memory (so it never waits
// behind a commit in progress) and older ones from the log on disk: both
// must say the same, and a change log kept shorter than memory still wins.
TEST(EmbeddedStoreTest, ChangesSinceFromMemoryMatchesTheLogOnDisk) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::vector<std::vector<StateChange>> from_memory;
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, kNone).ok());
    ASSERT_TRUE(store->Put(Addr(3), kT + 5, kByAdmin).ok());
    ASSERT_TRUE(store->Delete({Addr(1)}, kT + 1).ok());
    ASSERT_TRUE(store->Expire(kT + 1, kNone).ok());
    for (uint64_t since = 0; since <= 5; ++since) {
      absl::StatusOr<std::vector<StateChange>> c =
          store->ChangesSince(since, 3);
      ASSERT_TRUE(c.ok()) << c.status();
      from_memory.push_back(*c);
    }
    EXPECT_TRUE(absl::IsOutOfRange(store->ChangesSince(6, 3).status()));
  }
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);  // memory empty
  ASSERT_NE(store, nullptr);
  for (uint64_t since = 0; since <= 5; ++since) {
    absl::StatusOr<std::vector<StateChange>> c = store->ChangesSince(since, 3);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(c->size(), from_memory[since].size()) << "since " << since;
    for (size_t i = 0; i < c->size(); ++i) {
      EXPECT_EQ((*c)[i].version, from_memory[since][i].version);
      EXPECT_EQ((*c)[i].address, from_memory[since][i].address);
      EXPECT_EQ((*c)[i].ticks, from_memory[since][i].ticks);
      EXPECT_EQ((*c)[i].removed, from_memory[since][i].removed);
    }
  }
}

// The log is trimmed by walking it from its first entry: after commits
// that trim less, as much as, and more than they append, the file keeps
// exactly the last `change_log_limit` changes.
TEST(EmbeddedStoreTest, TheLogOnDiskKeepsTheLastLimitChanges) {
  ScratchDir scratch;
  EmbeddedStoreOptions options;
  options.data_dir = scratch.File("store");
  options.change_log_limit = 3;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)
                    ->MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, kNone)
                    .ok());  // versions 1-2
    ASSERT_TRUE(
        (*store)
            ->MergeLogins(
                {{Addr(3), kT}, {Addr(4), kT}, {Addr(5), kT}, {Addr(6), kT}},
                kNone)
            .ok());  // 3-6, more than the limit at once
    for (int i = 7; i <= 10; ++i) {
      ASSERT_TRUE((*store)->MergeLogins({{Addr(i), kT}}, kNone).ok());
    }
  }
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);  // memory empty: the log on disk answers
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<StateChange>> kept =
      (*store)->ChangesSince(7, 100);
  ASSERT_TRUE(kept.ok()) << kept.status();
  std::vector<uint64_t> versions;
  for (const StateChange& c : *kept) versions.push_back(c.version);
  EXPECT_THAT(versions, ::testing::ElementsAre(8, 9, 10));
  EXPECT_TRUE(absl::IsOutOfRange((*store)->ChangesSince(6, 100).status()));
  EXPECT_TRUE((*store)->CheckIndexes().ok());
}

// The names of the transaction log files in `dir`, in order.
std::vector<std::string> LogFiles(const std::string& dir) {
  std::vector<std::string> logs;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("log.", 0) == 0) logs.push_back(name);
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

// Checkpoints run on a thread of their own, not after each commit: they
// still come, so the log files they free are removed while the store is
// open.
TEST(EmbeddedStoreTest, CheckpointsRemoveOldLogFilesWhileOpen) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  // Each commit logs a few MB; a checkpoint is due every 16 MB of log and
  // a log file holds 10 MB. Bounded: at most 40 commits.
  int next = 1;
  for (int commit = 0; commit < 40 && LogFiles(dir).size() < 4; ++commit) {
    std::vector<Login> logins;
    for (int i = 0; i < 10000; ++i) logins.push_back({Addr(next++), kT});
    ASSERT_TRUE(store->MergeLogins(logins, kNone).ok());
  }
  ASSERT_GE(LogFiles(dir).size(), 4u) << "the log never grew";
  // One more commit asks for a checkpoint; wait for it (at most 60 s).
  ASSERT_TRUE(store->MergeLogins({{Addr(next), kT}}, kNone).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (LogFiles(dir).front() == "log.0000000001" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(LogFiles(dir).front(), "log.0000000001");
  EXPECT_EQ(*store->EntryCount(), next);
}

TEST(EmbeddedStoreTest, SecondOpenOfSameDirFails) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::unique_ptr<EmbeddedStore> first = OpenOrFail(dir);
  ASSERT_NE(first, nullptr);
  EmbeddedStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> second =
      EmbeddedStore::Open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(dir));
  // The failed open left the first store working, and closing it frees
  // the directory.
  EXPECT_TRUE(first->MergeLogins({{Addr(1), kT}}, kNone).ok());
  first.reset();
  EXPECT_NE(OpenOrFail(dir), nullptr);
}

// Child side of SurvivesSigkill: one login per transaction, reporting each
// committed version on `fd` until killed.
int ApplyAndReport(const std::string& dir, int fd, int count) {
  EmbeddedStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);
  if (!store.ok()) return 2;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<MutationResult> r =
        (*store)->MergeLogins({{Addr(i), kT + i}}, kNone);
    if (!r.ok() || r->changes.size() != 1) return 3;
    const uint64_t version = r->changes[0].version;
    if (write(fd, &version, sizeof(version)) != sizeof(version)) return 4;
  }
  return 0;
}

TEST(EmbeddedStoreTest, SurvivesSigkill) {
  constexpr int kMutations = 1000000;  // far more than happen before the kill
  constexpr size_t kKillAfter = 300;
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    _exit(ApplyAndReport(dir, fds[1], kMutations));
  }
  close(fds[1]);
  std::vector<uint64_t> reported;
  uint64_t version;
  bool killed = false;
  // Reports still in the pipe after the kill were committed too.
  while (read(fds[0], &version, sizeof(version)) == sizeof(version)) {
    reported.push_back(version);
    if (!killed && reported.size() == kKillAfter) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited early with status " << status;
  ASSERT_GE(reported.size(), kKillAfter);

  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  for (size_t i = 0; i < reported.size(); ++i) {
    ASSERT_EQ(reported[i], i + 1);
  }
  // Everything reported is there, and what is there is exactly a prefix
  // of the child's mutations (a commit cut short by the kill is all or
  // nothing).
  const uint64_t recovered = *store->Version();
  EXPECT_GE(recovered, reported.size());
  std::map<std::string, int64_t> expected;
  for (uint64_t i = 0; i < recovered; ++i) {
    expected[Addr(static_cast<int>(i))] = kT + static_cast<int64_t>(i);
  }
  EXPECT_EQ(Entries(*store), expected);
  absl::StatusOr<std::vector<StateChange>> changes =
      store->ChangesSince(0, SIZE_MAX);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), recovered);
  for (uint64_t i = 0; i < recovered; ++i) {
    const StateChange& c = (*changes)[i];
    EXPECT_EQ(c.version, i + 1);
    EXPECT_EQ(c.address, Addr(static_cast<int>(i)));
    EXPECT_EQ(c.ticks, kT + static_cast<int64_t>(i));
  }
}

TEST(EmbeddedStoreTest, ConcurrentMergesFromThreads) {
  constexpr int kThreads = 4;
  constexpr int kLoginsPerThread = 2000;
  constexpr int kAddresses = 500;
  constexpr int kBatch = 5;  // logins per call; each call is one commit
  ScratchDir scratch;
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(scratch.File("store"));
  ASSERT_NE(store, nullptr);

  auto login = [](int thread, int i) {
    return Login{Addr((i * 7 + thread) % kAddresses),
                 kT + (i * 7919 + thread * 104729) % 100000};
  };
  std::vector<std::vector<StateChange>> changes(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLoginsPerThread; i += kBatch) {
        std::vector<Login> batch;
        for (int j = i; j < i + kBatch; ++j) batch.push_back(login(t, j));
        absl::StatusOr<MutationResult> r = store->MergeLogins(batch, kNone);
        if (!r.ok()) {
          errors[t] = std::string(r.status().message());
          return;
        }
        changes[t].insert(changes[t].end(), r->changes.begin(),
                          r->changes.end());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");

  std::map<std::string, int64_t> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kLoginsPerThread; ++i) {
      Login l = login(t, i);
      expected[l.address] = std::max(expected[l.address], l.login_time);
    }
  }
  EXPECT_EQ(Entries(*store), expected);
  EXPECT_EQ(*store->EntryCount(), kAddresses);

  // Each call's versions came from one serialized transaction: together
  // they are exactly 1..N, and the log holds them in that order.
  std::vector<uint64_t> versions;
  for (const auto& per_thread : changes) {
    for (const StateChange& c : per_thread) versions.push_back(c.version);
  }
  std::sort(versions.begin(), versions.end());
  for (size_t i = 0; i < versions.size(); ++i) {
    ASSERT_EQ(versions[i], i + 1);
  }
  EXPECT_EQ(*store->Version(), versions.size());
  EXPECT_EQ(store->ChangesSince(0, SIZE_MAX)->size(), versions.size());
}

TEST(EmbeddedStoreTest, IndexKeysSortByTimeThenAddress) {
  std::vector<std::string> keys;
  for (int64_t t : {INT64_MIN, int64_t{-2}, int64_t{-1}, int64_t{0}, int64_t{1},
                    kT, INT64_MAX}) {
    for (const char* address : {"10.0.0.1", "10.0.0.10", "10.0.0.2"}) {
      keys.push_back(embedded::EncodeIndexKey(t, address));
      int64_t time;
      absl::string_view decoded;
      ASSERT_TRUE(embedded::DecodeIndexKey(keys.back(), &time, &decoded));
      EXPECT_EQ(time, t);
      EXPECT_EQ(decoded, address);
    }
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

// A reproducible mix of every mutation, negative times included, checking
// the indexes against the records along the way and after a reopen.
TEST(EmbeddedStoreTest, IndexesAgreeWithRecordsAfterRandomOperations) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  std::map<std::string, RelayRecord> model;
  std::mt19937 rng(11);
  auto pick = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  for (int step = 1; step <= 2000; ++step) {
    const int kind = pick(0, 9);
    const std::string address = Addr(pick(0, 60));
    const int64_t t = pick(-100, 300);
    if (kind < 4) {
      ASSERT_TRUE(store->MergeLogins({{address, t}}, kNone).ok());
      model[address].MergeLogin(t);
    } else if (kind < 6) {
      ASSERT_TRUE(store->Put(address, t, kByAdmin).ok());
      model[address].Put(t);
    } else if (kind < 8) {
      ASSERT_TRUE(store->Delete({address}, t).ok());
      model[address].Delete(t);
    } else {
      const int64_t forget_before = t - pick(0, 200);
      ASSERT_TRUE(store->Expire(t, forget_before).ok());
      for (auto it = model.begin(); it != model.end();) {
        it->second.Expire(t);
        const bool forget =
            !it->second.present() && it->second.delete_time <= forget_before;
        it = forget ? model.erase(it) : std::next(it);
      }
    }
    if (step % 100 == 0) {
      absl::Status s = store->CheckIndexes();
      ASSERT_TRUE(s.ok()) << "step " << step << ": " << s;
    }
  }
  std::map<std::string, int64_t> present;
  for (const auto& [address, rec] : model) {
    if (rec.present()) present[address] = rec.login_time;
  }
  EXPECT_EQ(Entries(*store), present);
  store.reset();
  store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  absl::Status s = store->CheckIndexes();
  EXPECT_TRUE(s.ok()) << s;
}

// Edits `file` of the closed store in `dir` through Berkeley DB directly,
// as damage or an older version would have left it.
void EditDatabase(const std::string& dir, const char* file,
                  const std::function<void(DB*)>& edit) {
  DB_ENV* env = nullptr;
  ASSERT_EQ(db_env_create(&env, 0), 0);
  ASSERT_EQ(env->open(env, dir.c_str(),
                      DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK |
                          DB_INIT_MPOOL | DB_RECOVER,
                      0600),
            0);
  DB* db = nullptr;
  ASSERT_EQ(db_create(&db, env, 0), 0);
  ASSERT_EQ(
      db->open(db, nullptr, file, nullptr, DB_BTREE, DB_AUTO_COMMIT, 0600), 0);
  edit(db);
  EXPECT_EQ(db->close(db, 0), 0);
  EXPECT_EQ(env->close(env, 0), 0);
}

void PutKey(DB* db, const std::string& key, const std::string& value) {
  DBT k, v;
  std::memset(&k, 0, sizeof(k));
  std::memset(&v, 0, sizeof(v));
  k.data = const_cast<char*>(key.data());
  k.size = key.size();
  v.data = const_cast<char*>(value.data());
  v.size = value.size();
  EXPECT_EQ(db->put(db, nullptr, &k, &v, 0), 0);
}

void DeleteKey(DB* db, const std::string& key) {
  DBT k;
  std::memset(&k, 0, sizeof(k));
  k.data = const_cast<char*>(key.data());
  k.size = key.size();
  EXPECT_EQ(db->del(db, nullptr, &k, 0), 0);
}

TEST(EmbeddedStoreTest, DamagedIndexIsDataLossNotWrongExpiry) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(
        store->MergeLogins({{Addr(1), kT}, {Addr(2), kT + 1}}, kNone).ok());
  }
  EditDatabase(dir, "by_login.db", [](DB* db) {
    DeleteKey(db, embedded::EncodeIndexKey(kT, Addr(1)));
  });
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  absl::Status s = store->CheckIndexes();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(Addr(1)));
  // Moving the entry needs its old index entry: the mutation fails whole.
  s = store->MergeLogins({{Addr(1), kT + 5}}, kNone).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  store.reset();

  EditDatabase(dir, "by_login.db", [](DB* db) {
    PutKey(db, embedded::EncodeIndexKey(kT - 1, Addr(9)), "");
  });
  store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  s = store->Expire(kT + 1, kNone).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(Addr(9)));
  EXPECT_EQ(*store->EntryCount(), 2);  // nothing of it was applied
}

TEST(EmbeddedStoreTest, RefusesAStoreOfAnotherFormat) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  ASSERT_NE(OpenOrFail(dir), nullptr);
  EditDatabase(dir, "meta.db", [](DB* db) { PutKey(db, "format", "1"); });
  EmbeddedStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(dir));
  EXPECT_THAT(store.status().message(), HasSubstr("format \"1\""));
}

// The store's format, read with the store closed.
std::string FormatOf(const std::string& dir) {
  std::string format;
  EditDatabase(dir, "meta.db", [&](DB* db) {
    DBT k, v;
    std::memset(&k, 0, sizeof(k));
    std::memset(&v, 0, sizeof(v));
    k.data = const_cast<char*>("format");
    k.size = 6;
    v.flags = DB_DBT_MALLOC;
    ASSERT_EQ(db->get(db, nullptr, &k, &v, 0), 0);
    format.assign(static_cast<char*>(v.data), v.size);
    std::free(v.data);
  });
  return format;
}

TEST(EmbeddedStoreTest, OpensAFormat2StoreAndMarksItFormat4) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}}, kNone).ok());
  }
  // As relaysync before attribution left it: format 2, 16-byte values.
  EditDatabase(dir, "meta.db", [](DB* db) { PutKey(db, "format", "2"); });
  EditDatabase(dir, "records.db", [](DB* db) {
    PutKey(db, Addr(1), embedded::EncodeU64(kT) + embedded::EncodeU64(0));
  });
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    absl::StatusOr<std::vector<AttributedEntry>> read = store->ReadAttributed();
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->size(), 1u);
    EXPECT_EQ((*read)[0].ticks, kT);
    EXPECT_TRUE((*read)[0].who.empty());
    ASSERT_TRUE(
        store->MergeLogins({{Addr(1), kT + 1, {"mx1", "alice"}}}, kNone).ok());
    read = store->ReadAttributed();
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ((*read)[0].who, (Attribution{"mx1", "alice"}));
    EXPECT_TRUE(store->CheckIndexes().ok());
  }
  // An older relaysync now refuses the store by its format instead of
  // failing on the first attributed value.
  EXPECT_EQ(FormatOf(dir), "4");
}

// Format 3 kept one change per change log entry, in a value format 4 does
// not read: the upgrade empties the log, so an agent behind takes a
// snapshot instead of a misread change, and what follows is readable.
TEST(EmbeddedStoreTest, OpensAFormat3StoreWithAnEmptiedChangeLog) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, kNone).ok());
  }
  EditDatabase(dir, "meta.db", [](DB* db) { PutKey(db, "format", "3"); });
  EditDatabase(dir, "changelog.db", [](DB* db) {
    ASSERT_EQ(db->truncate(db, nullptr, nullptr, 0), 0);
    // Format 3's value: ticks, removed flag, address.
    for (uint64_t v = 1; v <= 2; ++v) {
      PutKey(db, embedded::EncodeU64(v),
             embedded::EncodeU64(kT) + std::string(1, '\0') +
                 Addr(static_cast<int>(v)));
    }
  });
  {
    ::testing::internal::CaptureStderr();
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_NE(store, nullptr);
    // The operator learns why every agent takes a snapshot.
    EXPECT_THAT(log, HasSubstr("format 3 upgraded to 4"));
    EXPECT_THAT(log, HasSubstr("snapshot"));
    EXPECT_EQ(*store->Version(), 2u);
    EXPECT_TRUE(absl::IsOutOfRange(store->ChangesSince(0, 10).status()));
    EXPECT_TRUE(absl::IsOutOfRange(store->ChangesSince(1, 10).status()));
    absl::StatusOr<std::vector<StateChange>> none = store->ChangesSince(2, 10);
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(Entries(*store).size(), 2u);
    ASSERT_TRUE(store->MergeLogins({{Addr(3), kT}}, kNone).ok());
  }
  EXPECT_EQ(FormatOf(dir), "4");
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);  // memory empty
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<StateChange>> c = store->ChangesSince(2, 10);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].version, 3u);
  EXPECT_EQ((*c)[0].address, Addr(3));
  EXPECT_EQ((*c)[0].ticks, kT);
}

// The log on disk holds runs of changes, one entry each: a reader starting
// anywhere, in the middle of a run or at its edge, with any limit, gets
// what memory gave, and the trim keeps the limit exact though it deletes
// whole runs.
TEST(EmbeddedStoreTest, TheLogOnDiskAnswersFromInsideItsRuns) {
  ScratchDir scratch;
  EmbeddedStoreOptions options;
  options.data_dir = scratch.File("store");
  // Versions 1-1000 in one commit are runs 1-256, 257-512, 513-768 and
  // 769-1000; the last commit trims the first run, leaving 257-300 on disk
  // below the oldest retained version, 301.
  options.change_log_limit = 1000;
  std::map<std::pair<uint64_t, size_t>, std::vector<StateChange>> from_memory;
  const std::vector<uint64_t> starts = {300, 301, 511,  512,  513,
                                        767, 768, 1000, 1299, 1300};
  const std::vector<size_t> limits = {1, 7, 256, 257, 2000};
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<Login> logins;
    for (int i = 1; i <= 1000; ++i) logins.push_back({Addr(i), kT});
    ASSERT_TRUE((*store)->MergeLogins(logins, kNone).ok());  // versions 1-1000
    for (int i = 1001; i <= 1300; i += 100) {  // 1001-1300, in 3 commits
      logins.clear();
      for (int j = i; j < i + 100; ++j) logins.push_back({Addr(j), kT + 1});
      ASSERT_TRUE((*store)->MergeLogins(logins, kNone).ok());
    }
    ASSERT_EQ(*(*store)->Version(), 1300u);
    for (uint64_t since : starts) {
      for (size_t limit : limits) {
        absl::StatusOr<std::vector<StateChange>> c =
            (*store)->ChangesSince(since, limit);
        ASSERT_TRUE(c.ok()) << since << ": " << c.status();
        from_memory[{since, limit}] = *c;
      }
    }
  }
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);  // memory empty: the log on disk answers
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(absl::IsOutOfRange((*store)->ChangesSince(299, 10).status()));
  for (uint64_t since : starts) {
    for (size_t limit : limits) {
      absl::StatusOr<std::vector<StateChange>> c =
          (*store)->ChangesSince(since, limit);
      ASSERT_TRUE(c.ok()) << since << ": " << c.status();
      const std::vector<StateChange>& want = from_memory[{since, limit}];
      ASSERT_EQ(c->size(), std::min<size_t>(limit, 1300 - since));
      ASSERT_EQ(c->size(), want.size()) << since << " " << limit;
      for (size_t i = 0; i < c->size(); ++i) {
        EXPECT_EQ((*c)[i].version, since + 1 + i);
        EXPECT_EQ((*c)[i].version, want[i].version);
        EXPECT_EQ((*c)[i].address, want[i].address);
        EXPECT_EQ((*c)[i].ticks, want[i].ticks);
        EXPECT_EQ((*c)[i].removed, want[i].removed);
      }
    }
  }
}

// A run missing from the middle of the log is DataLoss, not a delta with a
// hole in it.
TEST(EmbeddedStoreTest, AMissingRunInTheLogIsDataLoss) {
  ScratchDir scratch;
  const std::string dir = scratch.File("store");
  {
    std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
    ASSERT_NE(store, nullptr);
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(store->MergeLogins({{Addr(i), kT}}, kNone).ok());
    }
  }
  EditDatabase(dir, "changelog.db",
               [](DB* db) { DeleteKey(db, embedded::EncodeU64(2)); });
  std::unique_ptr<EmbeddedStore> store = OpenOrFail(dir);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<StateChange>> c = store->ChangesSince(2, 10);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size(), 1u);
  c = store->ChangesSince(0, 10);
  EXPECT_TRUE(absl::IsDataLoss(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("change 2 missing"));
}

}  // namespace
}  // namespace relaysync
