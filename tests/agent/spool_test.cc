#include "agent/spool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/agent_state.h"
#include "agent/spool_record.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ReadFile;
using ::relaysync::testing::ScratchDir;
using ::relaysync::testing::WriteFile;

LocalLogin Login(int i) {
  LocalLogin login;
  login.address = absl::StrCat("192.0.2.", i % 250);
  login.login_time = 1'790'000'000 + i;
  login.user = absl::StrCat("user", i);
  login.protocol =
      i % 2 ? LocalLogin::Protocol::kPop3 : LocalLogin::Protocol::kImap;
  login.source = "log:/var/log/dovecot.log";
  return login;
}

std::vector<LocalLogin> Logins(int from, int to) {
  std::vector<LocalLogin> logins;
  for (int i = from; i < to; ++i) logins.push_back(Login(i));
  return logins;
}

std::vector<std::string> Ids(const std::vector<SpooledLogin>& spooled) {
  std::vector<std::string> ids;
  for (const SpooledLogin& s : spooled) ids.push_back(s.event_id);
  return ids;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> Open(const SpoolOptions& options = SpoolOptions()) {
    absl::StatusOr<std::unique_ptr<Spool>> spool =
        Spool::Open(dir_.File("spool"), "mx1", options);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return spool.ok() ? std::move(*spool) : nullptr;
  }
  std::string file() { return dir_.File("spool") + "/" + Spool::kFileName; }

  ScratchDir dir_;
};

TEST_F(SpoolTest, AppendAckAndReopen) {
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_NE(spool, nullptr);
    absl::StatusOr<std::vector<SpooledLogin>> added =
        spool->Append(Logins(0, 3));
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(Ids(*added),
              (std::vector<std::string>{"mx1/1", "mx1/2", "mx1/3"}));
    EXPECT_EQ((*added)[1].login, Login(1));
    ASSERT_TRUE(spool->Ack({"mx1/2", "mx1/unknown"}).ok());
    EXPECT_EQ(spool->pending_count(), 2u);
  }
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  std::vector<SpooledLogin> pending = spool->Pending();
  EXPECT_EQ(Ids(pending), (std::vector<std::string>{"mx1/1", "mx1/3"}));
  EXPECT_EQ(pending[0].login, Login(0));
  EXPECT_EQ(pending[1].login, Login(2));
  EXPECT_EQ(Ids(spool->Pending(1)), std::vector<std::string>{"mx1/1"});
}

TEST_F(SpoolTest, AckReturnsTheLoginsItRetired) {
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(Logins(0, 3)).ok());
  absl::StatusOr<std::vector<SpooledLogin>> retired =
      spool->Ack({"mx1/3", "mx1/unknown", "mx1/1", "mx1/3"});
  ASSERT_TRUE(retired.ok()) << retired.status();
  // Each pending one once, in the order listed.
  ASSERT_EQ(Ids(*retired), (std::vector<std::string>{"mx1/3", "mx1/1"}));
  EXPECT_EQ((*retired)[0].login, Login(2));
  EXPECT_EQ((*retired)[0].sequence, 3u);
  EXPECT_EQ(spool->pending_count(), 1u);
  // Already acknowledged: nothing retired again.
  retired = spool->Ack({"mx1/1", "mx1/3"});
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->empty());
  retired = spool->Ack({});
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->empty());
}

TEST_F(SpoolTest, LoginsDroppedByThePendingBoundAreNotRetiredByAnAck) {
  SpoolOptions options;
  options.max_pending = 2;
  std::unique_ptr<Spool> spool = Open(options);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(Logins(0, 3)).ok());  // drops mx1/1
  absl::StatusOr<std::vector<SpooledLogin>> retired =
      spool->Ack({"mx1/1", "mx1/2"});
  ASSERT_TRUE(retired.ok());
  EXPECT_EQ(Ids(*retired), (std::vector<std::string>{"mx1/2"}));
}

TEST_F(SpoolTest, TornTailIsIgnoredAndCutOff) {
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_TRUE(spool->Append(Logins(0, 3)).ok());
  }
  // A crash in the middle of the next append: half a record at the end.
  std::string whole = ReadFile(file());
  int64_t good_size = static_cast<int64_t>(whole.size());
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_TRUE(spool->Append(Logins(3, 4)).ok());
  }
  std::string longer = ReadFile(file());
  WriteFile(file(), longer.substr(0, longer.size() - 7));
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(Ids(spool->Pending()),
              (std::vector<std::string>{"mx1/1", "mx1/2", "mx1/3"}));
    EXPECT_EQ(FileSize(file()), good_size);
    // New records go after the good ones and survive the next replay.
    ASSERT_TRUE(spool->Append(Logins(10, 11)).ok());
  }
  // Garbage (not a record at all) at the end is cut off the same way.
  WriteFile(file(), ReadFile(file()) + std::string(3, '\xff'));
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  std::vector<SpooledLogin> pending = spool->Pending();
  ASSERT_EQ(pending.size(), 4u);
  EXPECT_EQ(pending[3].login, Login(10));
  // The torn record's id was never returned by a completed Append (its
  // fdatasync is what a crash interrupts), so it may be issued again.
  EXPECT_EQ(pending[3].event_id, "mx1/4");
}

TEST_F(SpoolTest, CorruptionInsideARecordDropsOnlyWhatFollows) {
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_TRUE(spool->Append(Logins(0, 3)).ok());
  }
  std::string bytes = ReadFile(file());
  bytes[bytes.size() - 3] ^= 0x40;  // inside the last record's payload
  WriteFile(file(), bytes);
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Ids(spool->Pending()),
            (std::vector<std::string>{"mx1/1", "mx1/2"}));
}

TEST_F(SpoolTest, CompactionKeepsPendingAndShrinksTheFile) {
  SpoolOptions options;
  options.compact_min_dead = 10;
  std::vector<std::string> acked;
  {
    std::unique_ptr<Spool> spool = Open(options);
    absl::StatusOr<std::vector<SpooledLogin>> added =
        spool->Append(Logins(0, 100));
    ASSERT_TRUE(added.ok());
    int64_t before = FileSize(file());
    for (int i = 0; i < 100; ++i) {
      if (i % 5 != 0) acked.push_back((*added)[i].event_id);
    }
    ASSERT_TRUE(spool->Ack(acked).ok());
    EXPECT_LT(FileSize(file()), before / 3);
    EXPECT_EQ(spool->pending_count(), 20u);
  }
  std::unique_ptr<Spool> spool = Open(options);
  std::vector<SpooledLogin> pending = spool->Pending();
  ASSERT_EQ(pending.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pending[i].event_id, absl::StrCat("mx1/", i * 5 + 1));
    EXPECT_EQ(pending[i].login, Login(i * 5));
  }
  EXPECT_EQ(Ids(*spool->Append(Logins(0, 1))),
            std::vector<std::string>{"mx1/101"});
}

TEST_F(SpoolTest, SequenceContinuesAfterReopenEvenWhenAllWereAcked) {
  SpoolOptions options;
  options.compact_min_dead = 1;  // compaction leaves no add records at all
  {
    std::unique_ptr<Spool> spool = Open(options);
    absl::StatusOr<std::vector<SpooledLogin>> added =
        spool->Append(Logins(0, 5));
    ASSERT_TRUE(spool->Ack(Ids(*added)).ok());
    EXPECT_EQ(spool->pending_count(), 0u);
  }
  {
    std::unique_ptr<Spool> spool = Open(options);
    EXPECT_EQ(spool->pending_count(), 0u);
    EXPECT_EQ(Ids(*spool->Append(Logins(5, 6))),
              std::vector<std::string>{"mx1/6"});
  }
  std::unique_ptr<Spool> spool = Open(options);
  EXPECT_EQ(Ids(*spool->Append(Logins(6, 7))),
            std::vector<std::string>{"mx1/7"});
}

TEST_F(SpoolTest, ConcurrentAppendsGetDistinctIdsAndAllSurvive) {
  std::set<std::string> ids;
  std::mutex mu;
  {
    std::unique_ptr<Spool> spool = Open();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          absl::StatusOr<std::vector<SpooledLogin>> added =
              spool->Append({Login(t * 1000 + i)});
          ASSERT_TRUE(added.ok()) << added.status();
          std::lock_guard<std::mutex> lock(mu);
          ids.insert((*added)[0].event_id);
          if (i % 10 == 0) {
            ASSERT_TRUE(spool->Ack({(*added)[0].event_id}).ok());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(ids.size(), 200u);
    EXPECT_EQ(spool->pending_count(), 180u);
  }
  std::unique_ptr<Spool> spool = Open();
  std::vector<SpooledLogin> pending = spool->Pending();
  ASSERT_EQ(pending.size(), 180u);
  for (size_t i = 1; i < pending.size(); ++i) {
    EXPECT_LT(std::stoi(pending[i - 1].event_id.substr(4)),
              std::stoi(pending[i].event_id.substr(4)));
  }
}

TEST_F(SpoolTest, PendingBoundDropsTheOldest) {
  SpoolOptions options;
  options.max_pending = 10;
  {
    std::unique_ptr<Spool> spool = Open(options);
    ASSERT_TRUE(spool->Append(Logins(0, 8)).ok());
    ASSERT_TRUE(spool->Append(Logins(8, 15)).ok());
    EXPECT_EQ(spool->pending_count(), 10u);
    EXPECT_EQ(spool->Pending().front().event_id, "mx1/6");
  }
  std::unique_ptr<Spool> spool = Open(options);
  EXPECT_EQ(spool->pending_count(), 10u);
  EXPECT_EQ(spool->Pending().front().event_id, "mx1/6");
}

TEST_F(SpoolTest, SecondOpenOfTheSameDirectoryIsRefused) {
  std::unique_ptr<Spool> first = Open();
  absl::StatusOr<std::unique_ptr<Spool>> second =
      Spool::Open(dir_.File("spool"), "mx1");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SpoolTest, ForeignFileIsRefusedNotOverwritten) {
  ASSERT_EQ(mkdir(dir_.File("spool").c_str(), 0700), 0);
  WriteFile(file(), "this is not a spool\n");
  absl::StatusOr<std::unique_ptr<Spool>> spool =
      Spool::Open(dir_.File("spool"), "mx1");
  EXPECT_EQ(spool.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(spool.status().message().find(file()), absl::string_view::npos);
  EXPECT_EQ(ReadFile(file()), "this is not a spool\n");
}

// A spool file whose records have good checksums but could not have been
// written by a spool (found by fuzz/spool_record_fuzzer.cc: "mx1/5" at
// seq 5, "mx0/5" at seq 5 again, then "mx1/6" at seq 2, so the next append
// issued "mx1/6" a second time).
TEST_F(SpoolTest, AddsOutOfSequenceOrWithAnotherIdAreRefused) {
  const std::string header = [] {
    std::string bytes;
    AppendSpoolRecord(SpoolRecordType::kHeader, EncodeSpoolHeader(1), &bytes);
    return bytes;
  }();
  auto add = [](uint64_t seq, const std::string& id) {
    std::string bytes;
    AppendSpoolRecord(SpoolRecordType::kAdd, EncodeSpoolAdd(seq, id, Login(1)),
                      &bytes);
    return bytes;
  };
  const std::string dir = dir_.File("spool");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  for (const std::string& body :
       {add(5, "mx1/5") + add(5, "mx0/5"), add(5, "mx1/5") + add(2, "mx1/6"),
        add(3, "mx1/4")}) {
    WriteFile(file(), header + body);
    absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(dir, "mx1");
    EXPECT_EQ(spool.status().code(), absl::StatusCode::kDataLoss);
  }
  // A header whose sequence starts at 0 (found by the fuzz target: the
  // spool then issued mx1/0 and refused its own file at the next open).
  std::string zero;
  AppendSpoolRecord(SpoolRecordType::kHeader, EncodeSpoolHeader(0), &zero);
  WriteFile(file(), zero);
  EXPECT_EQ(Spool::Open(dir, "mx1").status().code(),
            absl::StatusCode::kDataLoss);
  // One whose numbers are all used: nothing more can be appended.
  std::string full;
  AppendSpoolRecord(SpoolRecordType::kHeader, EncodeSpoolHeader(UINT64_MAX),
                    &full);
  WriteFile(file(), full);
  {
    std::unique_ptr<Spool> exhausted = Open();
    ASSERT_NE(exhausted, nullptr);
    EXPECT_EQ(exhausted->Append({Login(2)}).status().code(),
              absl::StatusCode::kResourceExhausted);
  }
  // Ids of an earlier host id (the host was renamed) are still fine.
  WriteFile(file(), header + add(3, "mx0/3") + add(7, "mx0/7"));
  std::unique_ptr<Spool> spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Ids(spool->Pending()),
            (std::vector<std::string>{"mx0/3", "mx0/7"}));
  absl::StatusOr<std::vector<SpooledLogin>> added = spool->Append({Login(2)});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ((*added)[0].event_id, "mx1/8");
}

TEST_F(SpoolTest, AgentStateRoundTrips) {
  AgentStateFile state_file(dir_.path());
  absl::StatusOr<AgentState> empty = state_file.Load();
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, AgentState());
  AgentState state{"epoch-7f3a", 12345, "", std::nullopt};
  ASSERT_TRUE(state_file.Save(state).ok());
  EXPECT_EQ(*AgentStateFile(dir_.path()).Load(), state);
  EXPECT_FALSE(state_file.Save({"bad\nepoch", 1, "", std::nullopt}).ok());
  // The boot id is kept too; a file written before it existed has none.
  AgentState booted{"epoch-7f3a", 7, CurrentBootId(), std::nullopt};
  ASSERT_FALSE(booted.boot_id.empty());  // Linux tells
  EXPECT_EQ(booted.boot_id, CurrentBootId());
  ASSERT_TRUE(state_file.Save(booted).ok());
  EXPECT_EQ(*AgentStateFile(dir_.path()).Load(), booted);
  WriteFile(state_file.path(),
            "relaysync-agent-state v1\nstore_epoch e\napplied_version 3\n");
  EXPECT_EQ(*state_file.Load(), (AgentState{"e", 3, "", std::nullopt}));
  WriteFile(state_file.path(), "garbage");
  absl::Status status = state_file.Load().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find(state_file.path()), absl::string_view::npos);
}

TEST_F(SpoolTest, AgentStateKeepsTheExpiryPolicyAndOldFilesHaveNone) {
  AgentStateFile state_file(dir_.path());
  AgentState state{"e", 3, "boot", 1800};
  ASSERT_TRUE(state_file.Save(state).ok());
  EXPECT_EQ(*state_file.Load(), state);
  state.expire_after_seconds = 0;  // told "never": not the same as unknown
  ASSERT_TRUE(state_file.Save(state).ok());
  EXPECT_EQ(state_file.Load()->expire_after_seconds, 0);
  // Written before the policy was kept: unknown, nothing expires locally.
  WriteFile(state_file.path(),
            "relaysync-agent-state v1\nstore_epoch e\napplied_version 3\n");
  EXPECT_FALSE(state_file.Load()->expire_after_seconds.has_value());
  WriteFile(state_file.path(),
            "relaysync-agent-state v1\nstore_epoch e\napplied_version 3\n"
            "expire_after_seconds soon\n");
  EXPECT_EQ(state_file.Load().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SpoolTest, OpenMakesTheSpoolDirectoryPrivate) {
  ASSERT_EQ(mkdir(dir_.File("spool").c_str(), 0755), 0);
  ASSERT_EQ(chmod(dir_.File("spool").c_str(), 0755), 0);
  ASSERT_NE(Open(), nullptr);
  struct stat st;
  ASSERT_EQ(stat(dir_.File("spool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace relaysync
