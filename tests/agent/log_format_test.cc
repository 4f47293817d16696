#include "agent/log_format.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/log_format_test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ClassifyAs;
using ::relaysync::testing::IsLogin;
using ::relaysync::testing::IsNotALogin;
using ::relaysync::testing::IsRefused;
using ::testing::HasSubstr;

// One genuine login line of each format, and its client.
struct Sample {
  const char* format;
  const char* line;
  const char* address;
};
const Sample kSamples[] = {
    {"dovecot",
     "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
     "rip=192.0.2.1, lip=192.0.2.100, mpid=1",
     "192.0.2.1"},
    {"courier",
     "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[::ffff:192.0.2.2], "
     "port=[1], protocol=IMAP",
     "192.0.2.2"},
    {"cyrus",
     "Nov 25 04:25:38 mx cyrus/imap[1]: login: c.example [192.0.2.3] a "
     "plaintext User logged in SESSIONID=<x>",
     "192.0.2.3"},
    {"qpopper",
     "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"a\" at "
     "(c.example) 192.0.2.4",
     "192.0.2.4"},
    {"uw-imap",
     "Nov 25 04:25:38 mx imapd[1]: Login user=a host=c.example [192.0.2.5]",
     "192.0.2.5"},
};

TEST(LogFormatTest, TheFlagNamesEveryFormatOrAuto) {
  EXPECT_EQ(LogFormatFlagValues(),
            "dovecot|courier|cyrus|qpopper|uw-imap|auto");
  absl::StatusOr<std::vector<const LogFormat*>> all =
      LogFormatsFromFlag("auto");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), AllLogFormats().size());
  for (const LogFormat& f : AllLogFormats()) {
    absl::StatusOr<std::vector<const LogFormat*>> one =
        LogFormatsFromFlag(f.name);
    ASSERT_TRUE(one.ok()) << f.name;
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ((*one)[0], &f);
  }
  absl::StatusOr<std::vector<const LogFormat*>> bad =
      LogFormatsFromFlag("exim");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(
      std::string(bad.status().message()),
      HasSubstr("\"exim\": dovecot|courier|cyrus|qpopper|uw-imap|auto"));
}

TEST(LogFormatTest, EachFormatReadsOnlyItsOwnLines) {
  for (const Sample& format : kSamples) {
    for (const Sample& sample : kSamples) {
      LogLineVerdict v = ClassifyAs(format.format, sample.line);
      if (&format == &sample) {
        ASSERT_TRUE(IsLogin(v)) << sample.line << ": " << v.verdict.reason;
        EXPECT_EQ(v.verdict.login.address, sample.address);
        EXPECT_EQ(v.format->name, format.format);
      } else {
        EXPECT_TRUE(IsNotALogin(v)) << format.format << ": " << sample.line;
        EXPECT_EQ(v.format, nullptr);
      }
    }
  }
}

TEST(LogFormatTest, AutoFindsTheFormatOfEveryLine) {
  for (const Sample& sample : kSamples) {
    LogLineVerdict v = ClassifyAs("auto", sample.line);
    ASSERT_TRUE(IsLogin(v)) << sample.line;
    EXPECT_EQ(v.format->name, sample.format) << sample.line;
    EXPECT_EQ(v.verdict.login.address, sample.address);
    EXPECT_EQ(v.form, std::string(sample.format) == "dovecot"
                          ? LogLineForm::kOwnLog
                          : LogLineForm::kSyslog);
  }
}

// Courier and UW-IMAP both log as "imapd"; their messages differ.
TEST(LogFormatTest, TheSharedImapdTagIsToldApartByTheMessage) {
  LogLineVerdict v = ClassifyAs(
      "uw-imap",
      "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[192.0.2.2], port=[1]");
  EXPECT_TRUE(IsNotALogin(v));
  v = ClassifyAs("courier",
                 "Nov 25 04:25:38 mx imapd[1]: Login user=a host=[192.0.2.5]");
  EXPECT_TRUE(IsNotALogin(v));
}

// A line long enough to have been cut by syslog, made long here by a long
// host name or Dovecot's trailing fields.
std::string Lengthened(const Sample& sample) {
  std::string line = sample.line;
  if (std::string(sample.format) == "dovecot") {
    return absl::StrCat(line, ", session=<", std::string(900, 's'), ">");
  }
  size_t host = line.find(" mx ");
  return absl::StrCat(line.substr(0, host + 1), std::string(900, 'h'),
                      line.substr(host + 3));
}

TEST(LogFormatTest, LongLinesAndControlCharactersAreRefusedWithAReason) {
  for (const Sample& sample : kSamples) {
    LogLineVerdict v = ClassifyAs(sample.format, Lengthened(sample));
    ASSERT_TRUE(IsRefused(v)) << sample.line;
    EXPECT_THAT(v.verdict.reason, HasSubstr("over 800 bytes")) << sample.line;
    std::string with_tab = sample.line;
    with_tab.insert(with_tab.find("a"), "\t");
    v = ClassifyAs(sample.format, with_tab);
    EXPECT_FALSE(IsLogin(v)) << with_tab;
  }
  LogLineVerdict v = ClassifyAs(
      "courier",
      "Nov 25 04:25:38 mx imapd: LOGIN, user=a\tb, ip=[192.0.2.2], port=[1]");
  ASSERT_TRUE(IsRefused(v));
  EXPECT_THAT(v.verdict.reason, HasSubstr("control character"));
}

TEST(LogFormatTest, ALineThatIsNoLoginHasNoFormat) {
  for (const char* line : {"", "garbage", "Nov 25 04:25:38",
                           "Nov 25 04:25:38 mx kernel: something"}) {
    LogLineVerdict v = ClassifyAs("auto", line);
    EXPECT_TRUE(IsNotALogin(v)) << line;
    EXPECT_EQ(v.format, nullptr);
  }
}

}  // namespace
}  // namespace relaysync
