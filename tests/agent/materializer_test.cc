#include "agent/materializer.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/fake_map.h"

namespace relaysync {
namespace {

using Map = std::map<std::string, std::string>;

constexpr int64_t kNow = 2000000000;

class MaterializerTest : public ::testing::Test {
 protected:
  FakeMap map_;
  FakeClock clock_{absl::FromUnixSeconds(kNow)};
  Materializer m_{&map_, KeyStyle::kSendmail, &clock_};
};

// Expiry by the agent's own clock, with a 60 s policy.
class MaterializerExpiryTest : public MaterializerTest {
 protected:
  void SetUp() override { ASSERT_TRUE(m_.SetExpireAfter(kPolicy).ok()); }

  // Runs an expiry pass; returns how many entries it removed (-1: failed).
  int ExpireNow() {
    absl::StatusOr<size_t> n = m_.Expire();
    return n.ok() ? static_cast<int>(*n) : -1;
  }

  static constexpr absl::Duration kPolicy = absl::Seconds(60);
};

TEST_F(MaterializerTest, LocalLoginIsWrittenAtOnceInSendmailKeyForm) {
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", 100).ok());
  ASSERT_TRUE(m_.AddLocal("fd00::5", 101).ok());
  EXPECT_EQ(map_.entries,
            (Map{{"10.0.0.1", "100"}, {"ipv6:fd00:0:0:0:0:0:0:5", "101"}}));
  EXPECT_EQ(map_.applies, 2);
}

TEST_F(MaterializerTest, AnEntryStampedAtTheEpochIsWrittenAndRemoved) {
  // vsmtprelay --coordinator=... add ip 0: present, at 1970.
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 5}}).ok());
  ASSERT_TRUE(
      m_.ApplyDeltas({{1, "10.0.0.1", 0, false}, {2, "fd00::5", 0, false}})
          .ok());
  EXPECT_EQ(map_.entries,
            (Map{{"10.0.0.1", "0"}, {"ipv6:fd00:0:0:0:0:0:0:5", "0"}}));
  EXPECT_EQ(m_.Held().size(), 2u);
  ASSERT_TRUE(m_.ApplyDeltas({{3, "10.0.0.1", 0, true}}).ok());
  EXPECT_EQ(map_.entries, (Map{{"ipv6:fd00:0:0:0:0:0:0:5", "0"}}));
  // A policy expires it at once.
  ASSERT_TRUE(m_.SetExpireAfter(absl::Minutes(30)).ok());
  EXPECT_TRUE(map_.entries.empty());
}

TEST_F(MaterializerTest, SnapshotReconcilesButKeepsPendingLocalLogins) {
  map_.entries = {{"10.0.0.1", "5"},   // stale timestamp
                  {"10.0.0.2", "5"},   // cluster no longer has it
                  {"junk", "x"},       // not ours
                  {"10.0.0.9", "7"}};  // local, unacknowledged
  ASSERT_TRUE(m_.Load().ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.9", 7).ok());
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 50}, {"10.0.0.3", 30}}).ok());
  EXPECT_EQ(map_.entries,
            (Map{{"10.0.0.1", "50"}, {"10.0.0.3", "30"}, {"10.0.0.9", "7"}}));
  // Once acknowledged, the cluster alone decides (it does not have it).
  ASSERT_TRUE(m_.Acknowledged({{"10.0.0.9", 7}}).ok());
  EXPECT_EQ(map_.entries.count("10.0.0.9"), 0u);
}

TEST_F(MaterializerTest, AnAckThatOvertakesItsLoginLeavesNothingPending) {
  // The client sends from the spool while the map is being written: the
  // coordinator's answer may come first. One it refused (never merged)
  // must not stay in the map, one it merged must.
  ASSERT_TRUE(m_.Acknowledged({{"10.0.0.3", 7}}).ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.3", 7).ok());
  EXPECT_EQ(map_.entries.count("10.0.0.3"), 0u);
  ASSERT_TRUE(m_.ApplyDeltas({{1, "10.0.0.4", 8, false}}).ok());
  ASSERT_TRUE(m_.Acknowledged({{"10.0.0.4", 8}}).ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.4", 8).ok());
  EXPECT_EQ(map_.entries.at("10.0.0.4"), "8");
  // Each early ack cancels one login: a later one is pending again.
  ASSERT_TRUE(m_.AddLocal("10.0.0.3", 9).ok());
  EXPECT_EQ(map_.entries.at("10.0.0.3"), "9");
}

TEST_F(MaterializerTest, DeltasApplyInOneWriteAndSkipNoOps) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 1}}).ok());
  const int before = map_.applies;
  ASSERT_TRUE(m_.ApplyDeltas({{1, "10.0.0.2", 2, false},
                              {2, "10.0.0.1", 0, true},
                              {3, "10.0.0.3", 3, false}})
                  .ok());
  EXPECT_EQ(map_.applies, before + 1);
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", "2"}, {"10.0.0.3", "3"}}));
  ASSERT_TRUE(m_.ApplyDeltas({{4, "10.0.0.2", 2, false}}).ok());
  EXPECT_EQ(map_.applies, before + 1) << "unchanged value: no write";
}

TEST_F(MaterializerTest, LaterOfLocalAndClusterTimeWins) {
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", 100).ok());
  ASSERT_TRUE(m_.ApplyDeltas({{1, "10.0.0.1", 90, false}}).ok());
  EXPECT_EQ(map_.entries["10.0.0.1"], "100");
  ASSERT_TRUE(m_.ApplyDeltas({{2, "10.0.0.1", 120, false}}).ok());
  EXPECT_EQ(map_.entries["10.0.0.1"], "120");
  // An admin delete upstream while the local login is unacknowledged: the
  // local login keeps relaying until the coordinator has ruled on it.
  ASSERT_TRUE(m_.ApplyDeltas({{3, "10.0.0.1", 0, true}}).ok());
  EXPECT_EQ(map_.entries["10.0.0.1"], "100");
  ASSERT_TRUE(m_.Acknowledged({{"10.0.0.1", 100}}).ok());
  EXPECT_EQ(map_.entries.count("10.0.0.1"), 0u);
}

// A coordinator that sends text which is not an address gets it ignored,
// the good changes around it applied, and one escaped warning line, not
// one per change: a stream of them must not flood the agent's log.
TEST_F(MaterializerTest, ChangesThatAreNotAddressesAreIgnoredWithOneWarning) {
  std::vector<StateChange> deltas;
  for (int i = 0; i < 1000; ++i) {
    deltas.push_back({static_cast<uint64_t>(i + 1), "bad\nline", 5, false});
  }
  deltas.push_back({1001, "10.0.0.1", 5, false});
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(m_.ApplyDeltas(deltas).ok());
  ASSERT_TRUE(m_.ApplyDeltas({{1002, "also bad", 5, false}}).ok());
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "5"}}));
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_THAT(log, ::testing::HasSubstr("ignored 1000 changes"));
  EXPECT_THAT(log, ::testing::HasSubstr("\"bad\\nline\""));
}

TEST_F(MaterializerTest, FailedWriteIsReportedAndRepairedBySnapshot) {
  map_.fail = true;
  EXPECT_FALSE(m_.ApplyDeltas({{1, "10.0.0.1", 5, false}}).ok());
  map_.fail = false;
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 5}}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "5"}}));
}

TEST_F(MaterializerTest, NothingExpiresWithoutAPolicy) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 5}}).ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.2", 6).ok());
  EXPECT_EQ(m_.NextExpiry(), absl::InfiniteFuture());
  EXPECT_EQ(*m_.Expire(), 0u);
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "5"}, {"10.0.0.2", "6"}}));
}

TEST_F(MaterializerExpiryTest, ClusterEntriesLeaveTheMapWhenTheyFallDue) {
  ASSERT_TRUE(
      m_.ApplySnapshot({{"10.0.0.1", kNow - 10}, {"10.0.0.2", kNow}}).ok());
  EXPECT_EQ(m_.NextExpiry(), absl::FromUnixSeconds(kNow + 50));
  clock_.Advance(absl::Seconds(49));
  EXPECT_EQ(ExpireNow(), 0) << "not before its time";
  clock_.Advance(absl::Seconds(1));  // ticks == now - expire_after: due
  EXPECT_EQ(ExpireNow(), 1);
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", std::to_string(kNow)}}));
  EXPECT_EQ(m_.NextExpiry(), absl::FromUnixSeconds(kNow + 60));
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(ExpireNow(), 1);
  EXPECT_TRUE(map_.entries.empty());
  EXPECT_EQ(m_.NextExpiry(), absl::InfiniteFuture());
  EXPECT_EQ(m_.stats().expired, 2u);
}

TEST_F(MaterializerExpiryTest, FutureStampedEntriesDoNotExpireEarly) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow + 3600}}).ok());
  clock_.Advance(absl::Seconds(3659));
  EXPECT_EQ(ExpireNow(), 0);
  EXPECT_EQ(map_.entries.count("10.0.0.1"), 1u);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(ExpireNow(), 1);
}

TEST_F(MaterializerExpiryTest, UnacknowledgedLocalLoginsExpireToo) {
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", kNow).ok());
  clock_.Advance(kPolicy);
  EXPECT_EQ(ExpireNow(), 1);
  EXPECT_TRUE(map_.entries.empty());
  // Replayed from the spool (a restart) or re-sent: not back in the map.
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", kNow).ok());
  EXPECT_TRUE(map_.entries.empty());
  // The coordinator acknowledges both (it dropped them: too old); a later
  // login of the address is pending, and relays, as any other.
  ASSERT_TRUE(m_.Acknowledged({{"10.0.0.1", kNow}, {"10.0.0.1", kNow}}).ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", kNow + 60).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", std::to_string(kNow + 60)}}));
}

TEST_F(MaterializerExpiryTest, EntriesThatArriveDueAreNotWritten) {
  // The coordinator's own expiry pass has not run yet, or its clock is
  // behind this host's.
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow - 60}}).ok());
  ASSERT_TRUE(m_.ApplyDeltas({{1, "10.0.0.2", kNow - 61, false}}).ok());
  EXPECT_TRUE(map_.entries.empty());
}

TEST_F(MaterializerExpiryTest, LaterDeltasStillApplyAfterALocalExpiry) {
  // Disconnected: the entry expires here, the applied version stays.
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow}}).ok());
  clock_.Advance(kPolicy);
  EXPECT_EQ(ExpireNow(), 1);
  // Reconnected: the coordinator's removal of it changes nothing...
  const int applies = map_.applies;
  ASSERT_TRUE(m_.ApplyDeltas({{2, "10.0.0.1", 0, true}}).ok());
  EXPECT_EQ(map_.applies, applies);
  // ...and a newer login of it, from any host, brings it back.
  ASSERT_TRUE(m_.ApplyDeltas({{3, "10.0.0.1", kNow + 30, false}}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", std::to_string(kNow + 30)}}));
}

TEST_F(MaterializerExpiryTest, APolicyChangeReevaluatesEveryEntry) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow - 100}}).ok());
  ASSERT_TRUE(m_.AddLocal("10.0.0.2", kNow - 100).ok());
  EXPECT_TRUE(map_.entries.empty());
  // Longer, or never: what the cluster still has (and what is still
  // pending) comes back.
  ASSERT_TRUE(m_.SetExpireAfter(absl::Minutes(5)).ok());
  EXPECT_EQ(map_.entries.size(), 2u);
  ASSERT_TRUE(m_.SetExpireAfter(absl::ZeroDuration()).ok());
  EXPECT_EQ(map_.entries.size(), 2u);
  EXPECT_EQ(m_.NextExpiry(), absl::InfiniteFuture());
  ASSERT_TRUE(m_.SetExpireAfter(absl::Seconds(30)).ok());
  EXPECT_TRUE(map_.entries.empty());
}

TEST_F(MaterializerExpiryTest, WhatTheMapHeldAtStartIsExpiredToo) {
  map_.entries = {{"10.0.0.1", std::to_string(kNow - 100)},
                  {"10.0.0.2", std::to_string(kNow - 10)}};
  ASSERT_TRUE(m_.Load().ok());
  EXPECT_EQ(ExpireNow(), 1);
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", std::to_string(kNow - 10)}}));
}

TEST_F(MaterializerExpiryTest, AFailedWriteDoesNotStopExpiry) {
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", kNow).ok());
  clock_.Advance(kPolicy);
  map_.fail = true;  // e.g. locked by another writer for too long
  EXPECT_EQ(ExpireNow(), -1);
  EXPECT_FALSE(m_.AddLocal("10.0.0.2", kNow + 60).ok());
  map_.fail = false;
  // What the map holds was uncertain after the failure: the next pass
  // rebuilds it, and no snapshot is needed (none comes in an outage).
  EXPECT_EQ(ExpireNow(), 1);
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", std::to_string(kNow + 60)}}));
  ASSERT_TRUE(m_.ApplySnapshot({}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", std::to_string(kNow + 60)}}));
}

TEST_F(MaterializerTest, RepairRebuildsAMapThatWasReplacedAfterAFailedWrite) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow}, {"10.0.0.2", kNow}}).ok());
  EXPECT_TRUE(m_.Repair().ok()) << "nothing failed: nothing to do";
  map_.fail = true;  // e.g. replaced by a file that is not a map
  EXPECT_FALSE(
      m_.ApplyDeltas({{7, "10.0.0.3", kNow, false}, {8, "10.0.0.1", 0, true}})
          .ok());
  EXPECT_FALSE(m_.Repair().ok());
  // The operator moved the bad file away: the agent starts a new, empty
  // map, and the repair writes all it holds, the failed deltas included.
  map_.fail = false;
  map_.entries.clear();
  map_.entries["foreign"] = "1";
  ASSERT_TRUE(m_.Repair().ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.2", std::to_string(kNow)},
                               {"10.0.0.3", std::to_string(kNow)}}));
  const int applies = map_.applies;
  EXPECT_TRUE(m_.Repair().ok());
  EXPECT_TRUE(m_.ApplyDeltas({{7, "10.0.0.3", kNow, false}}).ok());
  EXPECT_EQ(map_.applies, applies)
      << "re-applying the failed deltas is a no-op";
}

TEST_F(MaterializerTest, AnyWriteAfterAFailedOneRebuildsTheMap) {
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", kNow}}).ok());
  map_.fail = true;
  EXPECT_FALSE(m_.ApplyDeltas({{2, "10.0.0.2", kNow, false}}).ok());
  map_.fail = false;
  map_.entries.clear();
  ASSERT_TRUE(m_.AddLocal("10.0.0.3", kNow).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", std::to_string(kNow)},
                               {"10.0.0.2", std::to_string(kNow)},
                               {"10.0.0.3", std::to_string(kNow)}}));
}

}  // namespace
}  // namespace relaysync
