// The attribution values RedisStore keeps in {p}:who
// (backends/store/redis_replies.h): what the scripts store round-trips, and a
// damaged value is refused rather than misread.
#include "backends/store/redis_replies.h"

#include <string>
#include <utility>
#include <vector>

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
    const std::string value = WhoValue(-kT, who);
    EXPECT_EQ(value, absl::StrCat(-kT, ":", PackAttribution(who)));
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

TEST(RedisRepliesTest, ScoresAreTimesExactlyOrRefused) {
  constexpr int64_t kMax = (int64_t{1} << 53) - 1;
  int64_t t = 0;
  for (const auto& [text, want] : std::vector<std::pair<std::string, int64_t>>{
           {"1700000000", kT},
           {"-1700000000", -kT},
           {"1.7e+09", kT},
           {"9007199254740991", kMax},
           {"-9007199254740992", -kMax - 1}}) {
    ASSERT_TRUE(ParseScore(text, &t)) << text;
    EXPECT_EQ(t, want) << text;
  }
  for (const std::string bad : {"", "1.5", "inf", "nan", "1e300", "x"}) {
    EXPECT_FALSE(ParseScore(bad, &t)) << bad;
  }
}

}  // namespace
}  // namespace relaysync::redis
