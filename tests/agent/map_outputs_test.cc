#include "agent/map_outputs.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/fake_map.h"

namespace relaysync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Entries = std::map<std::string, std::string>;

constexpr char kV6Sendmail[] = "ipv6:fd00:0:0:0:0:0:0:5";

class MapOutputsTest : public ::testing::Test {
 protected:
  // A sendmail map and a canonical one (as postfix-hash), each a FakeMap
  // this test keeps a pointer to.
  void Make(Entries first = {}, Entries second = {}) {
    auto a = std::make_unique<FakeMap>();
    auto b = std::make_unique<FakeMap>();
    a->entries = std::move(first);
    b->entries = std::move(second);
    sendmail_ = a.get();
    postfix_ = b.get();
    std::vector<MapOutputs::Output> outputs;
    outputs.push_back({"sendmail:a", std::move(a), KeyStyle::kSendmail});
    outputs.push_back({"postfix-hash:b", std::move(b), KeyStyle::kCanonical});
    maps_ = std::make_unique<MapOutputs>(
        std::move(outputs), absl::Milliseconds(1), absl::Milliseconds(1));
  }
  absl::Status Put(const std::string& key, int64_t ticks) {
    MapBatch batch;
    batch.Put(key, ticks);
    return maps_->Apply(batch).status();
  }

  FakeMap* sendmail_ = nullptr;
  FakeMap* postfix_ = nullptr;
  std::unique_ptr<MapOutputs> maps_;
};

TEST_F(MapOutputsTest, WritesEveryMapInItsOwnKeySpelling) {
  Make();
  ASSERT_TRUE(maps_->ReadAll().ok());
  ASSERT_TRUE(Put("fd00::5", 7).ok());
  ASSERT_TRUE(Put("10.0.0.1", 8).ok());
  EXPECT_EQ(sendmail_->entries,
            (Entries{{kV6Sendmail, "7"}, {"10.0.0.1", "8"}}));
  EXPECT_EQ(postfix_->entries, (Entries{{"fd00::5", "7"}, {"10.0.0.1", "8"}}));
  MapBatch del;
  del.Delete("fd00::5");
  ASSERT_TRUE(maps_->Apply(del).ok());
  EXPECT_EQ(sendmail_->entries, (Entries{{"10.0.0.1", "8"}}));
  EXPECT_EQ(postfix_->entries, (Entries{{"10.0.0.1", "8"}}));
}

TEST_F(MapOutputsTest, AFailingMapDoesNotStopTheOthersAndCatchesUpLater) {
  Make();
  ASSERT_TRUE(maps_->ReadAll().ok());
  postfix_->fail = true;
  ASSERT_TRUE(Put("10.0.0.1", 1).ok());
  ASSERT_TRUE(Put("10.0.0.2", 2).ok());
  EXPECT_EQ(sendmail_->entries.size(), 2u);
  EXPECT_THAT(postfix_->entries, IsEmpty());
  EXPECT_THAT(maps_->Behind(), ElementsAre("postfix-hash:b"));

  postfix_->fail = false;
  absl::SleepFor(absl::Milliseconds(5));  // past its backoff
  ASSERT_TRUE(maps_->SignalWrites().ok());
  EXPECT_THAT(maps_->Behind(), IsEmpty());
  EXPECT_EQ(postfix_->entries, sendmail_->entries);
}

TEST_F(MapOutputsTest, FailsOnlyWhenNoMapIsCurrent) {
  Make();
  ASSERT_TRUE(maps_->ReadAll().ok());
  sendmail_->fail = true;
  postfix_->fail = true;
  EXPECT_TRUE(absl::IsDeadlineExceeded(Put("10.0.0.1", 1)));
  sendmail_->fail = false;
  absl::SleepFor(absl::Milliseconds(5));
  // The next write rebuilds the recovered map, this entry included.
  ASSERT_TRUE(Put("10.0.0.2", 2).ok());
  EXPECT_EQ(sendmail_->entries,
            (Entries{{"10.0.0.1", "1"}, {"10.0.0.2", "2"}}));
}

TEST_F(MapOutputsTest, ReadAllTakesTheFirstMapAndBringsEveryMapToIt) {
  // The sendmail map also holds an IPv6 key in the wrong spelling.
  Make({{"10.0.0.1", "5"}, {kV6Sendmail, "6"}, {"fd00::7", "9"}},
       {{"10.9.9.9", "1"}});
  absl::StatusOr<std::vector<MapEntry>> all = maps_->ReadAll();
  ASSERT_TRUE(all.ok());
  std::map<std::string, std::string> read;
  for (const MapEntry& e : *all) read[e.key] = e.value;
  EXPECT_EQ(read,
            (Entries{{"10.0.0.1", "5"}, {"fd00::5", "6"}, {"fd00::7", "9"}}));
  ASSERT_TRUE(maps_->SignalWrites().ok());
  EXPECT_EQ(postfix_->entries,
            (Entries{{"10.0.0.1", "5"}, {"fd00::5", "6"}, {"fd00::7", "9"}}));
  EXPECT_EQ(sendmail_->entries, (Entries{{"10.0.0.1", "5"},
                                         {kV6Sendmail, "6"},
                                         {"ipv6:fd00:0:0:0:0:0:0:7", "9"}}));
}

TEST_F(MapOutputsTest, AWriteBeforeAnyReadKeepsWhatTheMapsHold) {
  Make({{"10.0.0.1", "5"}}, {});
  ASSERT_TRUE(Put("10.0.0.2", 6).ok());
  EXPECT_EQ(sendmail_->entries,
            (Entries{{"10.0.0.1", "5"}, {"10.0.0.2", "6"}}));
  EXPECT_EQ(postfix_->entries, sendmail_->entries);
}

}  // namespace
}  // namespace relaysync
