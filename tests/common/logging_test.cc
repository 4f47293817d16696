#include "common/logging.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

// 2026-11-26T14:16:14.123456Z
const absl::Time kTime =
    absl::FromUnixSeconds(1795702574) + absl::Microseconds(123456);

google::protobuf::Struct Parse(const std::string& line) {
  google::protobuf::Struct parsed;
  const auto status =
      google::protobuf::util::JsonStringToMessage(line, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return parsed;
}

TEST(LoggingTest, TextLinesKeepTheirLayout) {
  EXPECT_EQ(FormatLogLine(LogEncoding::kText, kTime, "relaysync-agent", 42,
                          LogLevel::kWarning, "map busy"),
            "2026-11-26T14:16:14.123Z relaysync-agent: WARNING: map busy\n");
  EXPECT_EQ(FormatLogLine(LogEncoding::kText, kTime, "p", 42, LogLevel::kInfo,
                          "started"),
            "2026-11-26T14:16:14.123Z p: started\n");
  EXPECT_EQ(FormatLogLine(LogEncoding::kText, kTime, "p", 42, LogLevel::kInfo,
                          absl::string_view("cut\0here", 8)),
            "2026-11-26T14:16:14.123Z p: cut\n");
}

// A message quoting outside text cannot end its line and forge another.
TEST(LoggingTest, ATextLineEscapesControlBytes) {
  EXPECT_EQ(FormatLogLine(LogEncoding::kText, kTime, "p", 42, LogLevel::kInfo,
                          "user \"x\nT p: ERROR: forged\r\x1b[2J\t\x7f\""),
            "2026-11-26T14:16:14.123Z p: user "
            "\"x\\x0aT p: ERROR: forged\\x0d\\x1b[2J\t\\x7f\"\n");
}

TEST(LoggingTest, JsonLinesHaveTheDocumentedFields) {
  EXPECT_EQ(FormatLogLine(LogEncoding::kJson, kTime, "relaysync-coordinator",
                          42, LogLevel::kError, "store down"),
            "{\"time\":\"2026-11-26T14:16:14.123456Z\",\"level\":\"error\","
            "\"program\":\"relaysync-coordinator\",\"pid\":42,"
            "\"message\":\"store down\"}\n");
  const google::protobuf::Struct info = Parse(FormatLogLine(
      LogEncoding::kJson, kTime, "relaysync-agent", 7, LogLevel::kInfo, "up"));
  EXPECT_EQ(info.fields().at("level").string_value(), "info");
  EXPECT_EQ(info.fields().at("pid").number_value(), 7);
  EXPECT_EQ(Parse(FormatLogLine(LogEncoding::kJson, kTime, "p", 7,
                                LogLevel::kWarning, "w"))
                .fields()
                .at("level")
                .string_value(),
            "warning");
  // The time reads back as the instant logged.
  absl::Time time;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full,
                              info.fields().at("time").string_value(), &time,
                              &error))
      << error;
  EXPECT_EQ(time, kTime);
}

// A user name or a mail-log line can hold anything: it must not end the
// line, add a field or break the decoder of whoever ships the log.
TEST(LoggingTest, AHostileMessageStaysOneValidJsonLine) {
  const std::string hostile(
      "login of \"eve\nFAKE\",\"level\":\"error\"}\n{\"x\":\"\0\xff\xc0\\ ",
      48);
  const std::string line =
      FormatLogLine(LogEncoding::kJson, kTime, "relaysync-agent", 1,
                    LogLevel::kInfo, hostile);
  ASSERT_TRUE(absl::EndsWith(line, "}\n")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_EQ(line.find('\0'), std::string::npos) << line;
  const google::protobuf::Struct parsed = Parse(line);
  EXPECT_EQ(parsed.fields_size(), 5);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "info");
  EXPECT_EQ(parsed.fields().at("message").string_value(),
            std::string("login of \"eve\nFAKE\",\"level\":\"error\"}\n"
                        "{\"x\":\"\0\xef\xbf\xbd\xef\xbf\xbd\\ ",
                        52));
}

TEST(LoggingTest, OnlyTextAndJsonAreEncodings) {
  EXPECT_EQ(ParseLogEncoding("text"), LogEncoding::kText);
  EXPECT_EQ(ParseLogEncoding("json"), LogEncoding::kJson);
  EXPECT_EQ(ParseLogEncoding("JSON"), std::nullopt);
  EXPECT_EQ(ParseLogEncoding(""), std::nullopt);
  EXPECT_EQ(ParseLogEncoding("dovecot"), std::nullopt);
}

}  // namespace
}  // namespace relaysync
