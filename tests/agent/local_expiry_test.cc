// The agent's expiry timer over a real relayers.db, with a fake clock: when
// it removes entries and how long it sleeps between passes.
#include "agent/local_expiry.h"

#include <memory>
#include <string>

#include "backends/relayers_db.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

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

}  // namespace
}  // namespace relaysync
