#include "common/ticks.h"

#include "gtest/gtest.h"

namespace relaysync {
namespace {

TEST(TicksTest, ParsesDecimalSeconds) {
  EXPECT_EQ(*ParseTicks("0", "ticks"), 0);
  EXPECT_EQ(*ParseTicks("1764166574", "ticks"), 1764166574);
  EXPECT_EQ(*ParseTicks(std::string("1764166574\0", 11), "ticks"), 1764166574);
}

TEST(TicksTest, RejectsAnythingElse) {
  for (const char* bad : {"", "-1", "+5", "12a", " 12", "12 ", "1e9", "0x10",
                          "9999999999999999999999"}) {
    absl::StatusOr<int64_t> t = ParseTicks(bad, "ticks");
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("invalid ticks"),
                absl::string_view::npos);
    }
  }
}

TEST(TicksTest, FormatsLikeCtimeInUtc) {
  EXPECT_EQ(FormatCtimeUtc(0), "Thu Jan  1 00:00:00 1970");
  EXPECT_EQ(FormatCtimeUtc(1764166574), "Wed Nov 26 14:16:14 2025");
}

}  // namespace
}  // namespace relaysync
