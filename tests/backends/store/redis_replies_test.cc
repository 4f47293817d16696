// The attribution values RedisStore keeps in {p}:who
// (backends/store/redis_replies.h): what the scripts store round-trips, and a
// damaged value is refused rather than misread.
#include "backends/store/redis_replies.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace relaysync::redis {
namespace {

constexpr int64_t kT = 1700000000;

TEST(RedisRepliesTest, PackedAttributionIsHostLengthHostUser) {
  EXPECT_EQ(PackAttribution({"mx1", "bob:x"}), "3:mx1bob:x");
  EXPECT_EQ(PackAttribution({}), "0:");
}

TEST(RedisRepliesTest, AttributionRoundTripsAnyBytesUpToTheLimit) {
  for (const Attribution& who :
       {Attribution{}, Attribution{"mx1", ""}, Attribution{"", "3:ab"},
        Attribution{"mx:1", std::string("\0\n\x1b[2J\xff", 8)},
        Attribution{std::string(kMaxAttributionField, 'h'),
                    std::string(kMaxAttributionField, ':')}}) {
    // As the scripts store it: "<login_time>:" then the packed form.
    const std::string value = absl::StrCat(-kT, ":", PackAttribution(who));
    int64_t t = 0;
    Attribution back;
    ASSERT_TRUE(ParseAttribution(value, &t, &back)) << value;
    EXPECT_EQ(t, -kT);
    EXPECT_EQ(back, who);
  }
}

TEST(RedisRepliesTest, MalformedAttributionIsRefused) {
  const std::string long_user(kMaxAttributionField + 1, 'u');
  for (const std::string& bad :
       {std::string(""), std::string("1700000000"), std::string("x:3:mx1"),
        std::string("1700000000:"), std::string("1700000000:3"),
        std::string("1700000000:3:mx"), std::string("1700000000:-1:mx1"),
        std::string("1700000000:+3:mx1"), std::string("1700000000:257:h"),
        absl::StrCat("1700000000:0:", long_user)}) {
    int64_t t;
    Attribution who;
    EXPECT_FALSE(ParseAttribution(bad, &t, &who)) << bad;
  }
}

}  // namespace
}  // namespace relaysync::redis
