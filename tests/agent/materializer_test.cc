#include "agent/materializer.h"

#include <map>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

using Map = std::map<std::string, std::string>;

// An in-memory relay map that counts writes.
class FakeMap : public MapWriter {
 public:
  absl::StatusOr<std::vector<MapEntry>> ReadAll() override {
    std::vector<MapEntry> out;
    for (const auto& [k, v] : entries) out.push_back(MapEntry{k, v});
    return out;
  }
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override {
    if (fail) return absl::DeadlineExceededError("locked");
    ++applies;
    ApplyResult r;
    for (const MapBatch::Op& op : batch.ops()) {
      if (op.is_put) {
        entries[op.key] = op.value;
        ++r.written;
      } else if (entries.erase(op.key) == 0) {
        r.missing.push_back(op.key);
      } else {
        ++r.written;
      }
    }
    return r;
  }
  Map entries;
  int applies = 0;
  bool fail = false;
};

class MaterializerTest : public ::testing::Test {
 protected:
  FakeMap map_;
  Materializer m_{&map_, KeyStyle::kSendmail};
};

TEST_F(MaterializerTest, LocalLoginIsWrittenAtOnceInSendmailKeyForm) {
  ASSERT_TRUE(m_.AddLocal("10.0.0.1", 100).ok());
  ASSERT_TRUE(m_.AddLocal("fd00::5", 101).ok());
  EXPECT_EQ(map_.entries,
            (Map{{"10.0.0.1", "100"}, {"ipv6:fd00:0:0:0:0:0:0:5", "101"}}));
  EXPECT_EQ(map_.applies, 2);
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

TEST_F(MaterializerTest, FailedWriteIsReportedAndRepairedBySnapshot) {
  map_.fail = true;
  EXPECT_FALSE(m_.ApplyDeltas({{1, "10.0.0.1", 5, false}}).ok());
  map_.fail = false;
  ASSERT_TRUE(m_.ApplySnapshot({{"10.0.0.1", 5}}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "5"}}));
}

}  // namespace
}  // namespace relaysync
