// The agent's expiry timer over a real relayers.db, with a fake clock: when
// it removes entries and how long it sleeps between passes.
#include "agent/local_expiry.h"

#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "backends/map/relayers_db.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

constexpr int64_t kNow = 2000000000;

class LocalExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto map = RelayersDb::Open(dir_.File("relayers.db"),
                                RelayersDb::Mode::kReadWrite, MapOptions());
    ASSERT_TRUE(map.ok()) << map.status();
    map_ = std::move(*map);
    materializer_ = std::make_unique<Materializer>(
        map_.get(), KeyStyle::kSendmail, &clock_);
    expiry_ =
        std::make_unique<LocalExpiry>(materializer_.get(), nullptr, &clock_);
  }

  bool Present(const std::string& key) { return map_->Get(key).ok(); }

  testing::ScratchDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(kNow) + absl::Milliseconds(400)};
  std::unique_ptr<RelayersDb> map_;
  std::unique_ptr<Materializer> materializer_;
  std::unique_ptr<LocalExpiry> expiry_;
};

TEST_F(LocalExpiryTest, WithoutAPolicyItOnlyLooksAgainNowAndThen) {
  ASSERT_TRUE(materializer_->AddLocal("192.0.2.1", kNow - 100000).ok());
  EXPECT_EQ(expiry_->RunOnce(false), LocalExpiry::kMaxWait);
  EXPECT_TRUE(Present("192.0.2.1"));
}

TEST_F(LocalExpiryTest, WakesWhenTheNextEntryFallsDueAndRemovesIt) {
  ASSERT_TRUE(materializer_->SetExpireAfter(absl::Seconds(60)).ok());
  ASSERT_TRUE(materializer_->AddLocal("192.0.2.1", kNow).ok());
  EXPECT_EQ(expiry_->RunOnce(false), LocalExpiry::kMaxWait) << "due in 59.6 s";
  clock_.Set(absl::FromUnixSeconds(kNow + 59) + absl::Milliseconds(900));
  EXPECT_EQ(expiry_->RunOnce(false), absl::Milliseconds(100));
  EXPECT_TRUE(Present("192.0.2.1"));
  clock_.Set(absl::FromUnixSeconds(kNow + 60));
  EXPECT_EQ(expiry_->RunOnce(false), LocalExpiry::kMaxWait);
  EXPECT_FALSE(Present("192.0.2.1"));
  // Reconnected: the pass that logs the outage's count removes nothing.
  EXPECT_EQ(expiry_->RunOnce(true), LocalExpiry::kMaxWait);
  EXPECT_EQ(materializer_->stats().expired, 1u);
}

TEST_F(LocalExpiryTest, AMapThatIsNotABerkeleyDbIsRetriedOnABackoff) {
  ASSERT_TRUE(materializer_->SetExpireAfter(absl::Seconds(60)).ok());
  ASSERT_TRUE(materializer_->AddLocal("192.0.2.1", kNow - 30).ok());
  ASSERT_TRUE(materializer_->AddLocal("192.0.2.2", kNow).ok());
  // Replaced by something else; a write fails and leaves the map unknown.
  const std::string path = dir_.File("relayers.db");
  testing::WriteFile(path + ".new", std::string(8192, 'x'));
  ASSERT_EQ(rename((path + ".new").c_str(), path.c_str()), 0);
  ASSERT_FALSE(materializer_->AddLocal("192.0.2.3", kNow).ok());
  absl::Duration longest;
  for (int i = 0; i < 8; ++i) {
    const absl::Duration wait = expiry_->RunOnce(false);
    EXPECT_GE(wait, LocalExpiry::kMinRetry / 2) << i;
    EXPECT_LE(wait, LocalExpiry::kMaxRetry) << i;
    longest = std::max(longest, wait);
  }
  EXPECT_GE(longest, LocalExpiry::kMaxRetry / 2) << "it backs off";
  // Moved away: the next pass rebuilds the map, less what is due.
  ASSERT_EQ(unlink(path.c_str()), 0);
  clock_.Advance(absl::Seconds(40));
  EXPECT_LE(expiry_->RunOnce(false), LocalExpiry::kMaxWait);
  EXPECT_FALSE(Present("192.0.2.1"));
  EXPECT_TRUE(Present("192.0.2.2"));
  EXPECT_TRUE(Present("192.0.2.3"));
}

}  // namespace
}  // namespace relaysync
