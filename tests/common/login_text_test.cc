#include "common/login_text.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

TEST(LoginTextTest, PlainTextIsKept) {
  EXPECT_EQ(CleanLoginText("alice@example.org"), "alice@example.org");
  EXPECT_EQ(CleanLoginText(""), "");
}

TEST(LoginTextTest, BytesThatAreNotUtf8AreKeptAsTheyAre) {
  const std::string latin1 = "j\xf6rg";  // "jörg" in Latin-1
  EXPECT_EQ(CleanLoginText(latin1), latin1);
  const std::string utf8 = "j\xc3\xb6rg";
  EXPECT_EQ(CleanLoginText(utf8), utf8);
}

TEST(LoginTextTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(CleanLoginText(std::string("a\tb\nc\0d\x7f", 8)),
            "a\\x09b\\x0ac\\x00d\\x7f");
  EXPECT_EQ(CleanLoginText("\x1b[31mred"), "\\x1b[31mred");
}

TEST(LoginTextTest, LongTextIsCutNotRefused) {
  EXPECT_EQ(CleanLoginText(std::string(1000, 'u')), std::string(256, 'u'));
  EXPECT_EQ(CleanLoginText("abcdef", 4), "abcd");
}

TEST(LoginTextTest, ACutSplitsNeitherAnEscapeNorACharacter) {
  EXPECT_EQ(CleanLoginText("ab\ncd", 4), "ab");      // "\x0a" does not fit
  EXPECT_EQ(CleanLoginText("ab\xc3\xb6", 3), "ab");  // nor half an "ö"
  EXPECT_EQ(CleanLoginText("ab\xc3\xb6", 4), "ab\xc3\xb6");
}

TEST(LoginTextTest, CleaningTwiceChangesNothing) {
  for (const std::string& raw :
       {std::string("x\ty\\x09z"), std::string(300, '\n'),
        std::string("\xff\xfe\xc3"), std::string(600, '\xc3')}) {
    const std::string once = CleanLoginText(raw);
    EXPECT_LE(once.size(), kMaxTextField);
    EXPECT_EQ(CleanLoginText(once), once) << raw;
  }
}

}  // namespace
}  // namespace relaysync
