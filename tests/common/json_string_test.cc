#include "common/json_string.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/util/json_util.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

std::string Json(absl::string_view bytes) {
  std::string out;
  AppendJsonString(&out, bytes);
  return out;
}

// What a real JSON parser (protobuf's, which also refuses malformed UTF-8)
// reads back from Json(bytes); fails the test if it cannot.
std::string ParsedBack(absl::string_view bytes) {
  const std::string document = "{\"m\":" + Json(bytes) + "}";
  google::protobuf::Struct parsed;
  const auto status =
      google::protobuf::util::JsonStringToMessage(document, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << document;
  if (!status.ok()) return "";
  return parsed.fields().at("m").string_value();
}

// One line, no raw control byte, well-formed UTF-8: what shippers split
// and decode by.
void ExpectOneCleanLine(absl::string_view bytes) {
  const std::string out = Json(bytes);
  for (unsigned char c : out) {
    ASSERT_GE(c, 0x20) << "raw control byte in " << out;
    ASSERT_NE(c, 0x7F) << "raw DEL in " << out;
  }
  EXPECT_TRUE(google::protobuf::internal::IsStructurallyValidUTF8(
      out.data(), static_cast<int>(out.size())))
      << out;
}

TEST(JsonStringTest, PrintableAsciiIsOnlyQuoted) {
  EXPECT_EQ(Json("login of alice from 192.0.2.1"),
            "\"login of alice from 192.0.2.1\"");
  EXPECT_EQ(Json(""), "\"\"");
}

TEST(JsonStringTest, QuotesBackslashesAndControlBytesAreEscaped) {
  EXPECT_EQ(Json(absl::string_view("a\nb\0c\"d\\e\tf\rg\x1b[h\x7f", 17)),
            "\"a\\nb\\u0000c\\\"d\\\\e\\tf\\rg\\u001b[h\\u007f\"");
  EXPECT_EQ(ParsedBack(absl::string_view("a\nb\0c\"d\\e", 10)),
            std::string("a\nb\0c\"d\\e", 10));
}

TEST(JsonStringTest, WellFormedUtf8IsKept) {
  const std::string text = "J\xc3\xa9r\xc3\xb4me \xe2\x82\xac \xf0\x9f\x93\xa7";
  EXPECT_EQ(Json(text), "\"" + text + "\"");
  EXPECT_EQ(ParsedBack(text), text);
  // The edges of the ranges.
  for (std::string edge :
       {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_EQ(Json(edge), "\"" + edge + "\"");
  }
}

TEST(JsonStringTest, EveryByteOfMalformedUtf8BecomesAReplacementCharacter) {
  EXPECT_EQ(Json("a\xff"
                 "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(Json("\x80"), "\"\\ufffd\"");                        // lone tail
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong /
  EXPECT_EQ(Json("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");  // overlong
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(Json("\xf4\x90\x80\x80"),                            // > U+10FFFF
            "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(Json("\xe2\x82"), "\"\\ufffd\\ufffd\"");  // cut short at the end
  EXPECT_EQ(Json("\xe2\x82z"), "\"\\ufffd\\ufffdz\"");
  EXPECT_EQ(ParsedBack("user=\xff\xfe"), "user=\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonStringTest, EverySingleByteAndByteStringIsOneValidLine) {
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    ExpectOneCleanLine(one);
    ParsedBack(one);
  }
  std::mt19937 random(12);  // fixed: a failure repeats
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(random() % 24, '\0');
    for (char& b : bytes) b = static_cast<char>(random() % 256);
    ExpectOneCleanLine(bytes);
    ParsedBack(bytes);
  }
}

}  // namespace
}  // namespace relaysync
