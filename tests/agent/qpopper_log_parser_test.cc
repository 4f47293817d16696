#include "agent/qpopper_log_parser.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/agent/log_format_test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ClassifyAs;
using ::relaysync::testing::IsLogin;
using ::relaysync::testing::IsNotALogin;
using ::relaysync::testing::IsRefused;
using ::relaysync::testing::UtcTime;

LogLineVerdict Classify(absl::string_view line) {
  return ClassifyAs("qpopper", line);
}

TEST(QpopperLogParserTest, ParsesALoginWithItsSourceLocation) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx in.qpopper[7597]: (v4.0.9) POP login by user "
      "\"nick\" at (client.example.org) 192.0.2.35 [pop_log.c:244]");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.35");
  EXPECT_EQ(v.verdict.login.user, "nick");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kPop3);
  EXPECT_EQ(v.verdict.login.login_time,
            absl::ToUnixSeconds(UtcTime(2026, 11, 25, 4, 25, 38)));
  EXPECT_EQ(v.form, LogLineForm::kSyslog);
  EXPECT_EQ(v.format->name, "qpopper");
}

TEST(QpopperLogParserTest, ParsesTheOtherNamesAndAddressForms) {
  LogLineVerdict v = Classify(
      "2026-11-25T04:28:35+00:00 mx qpopper[12]: (v4.1.0) POP login by user "
      "\"bob\" at (2001:db8::9) 2001:db8::9");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "2001:db8::9");

  v = Classify(
      "Nov 25 04:25:38 mx popper[3]: (v4.1.0) POP login by user \"carol\" at "
      "(::ffff:192.0.2.8) ::ffff:192.0.2.8");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.8");
}

TEST(QpopperLogParserTest, AFakeTailInsideTheUserNameYieldsTheRealAddress) {
  for (const char* fake : {"x\" at (h) 6.6.6.6", "x\" at (h) 6.6.6.6 [a.c:1]",
                           "ip=[6.6.6.6]", "rip=6.6.6.6"}) {
    std::string line =
        std::string(
            "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by "
            "user \"") +
        fake + "\" at (host.example) 203.0.113.5 [pop_log.c:244]";
    LogLineVerdict v = Classify(line);
    ASSERT_TRUE(IsLogin(v)) << line;
    EXPECT_EQ(v.verdict.login.address, "203.0.113.5") << line;
    EXPECT_EQ(v.verdict.login.user, fake);
  }
}

TEST(QpopperLogParserTest, FailedAndMalformedLoginsAreRefused) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx qpopper[1]: alice at client.example.org "
      "(192.0.2.1): -ERR [AUTH] Password supplied for \"alice\" is "
      "incorrect. [pop_pass.c:1036]");
  EXPECT_TRUE(IsRefused(v));
  EXPECT_EQ(v.verdict.reason, "failed login");
  for (const char* line : {
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"a\" "
           "at (host) unknown",
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"a\" "
           "at (ho st) 192.0.2.1",
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"a\" "
           "at (host) 192.0.2.1 trailing",
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"\" "
           "at (host) 192.0.2.1",
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) POP login by user \"a\"",
       }) {
    EXPECT_TRUE(IsRefused(Classify(line))) << line;
  }
}

TEST(QpopperLogParserTest, OtherLinesAndOtherProgramsAreNotLogins) {
  for (const char* line : {
           "Nov 25 04:25:38 mx qpopper[1]: Stats: alice 0 0 1 2 host "
           "192.0.2.1",
           "Nov 25 04:25:38 mx qpopper[1]: (v4.0.9) Servicing request from "
           "\"host\" at 192.0.2.1 [pop_init.c:1408]",
           // The classic injection: text an SMTP client chose, in the MTA's
           // log line.
           "Nov 25 04:25:38 mx sm-mta[1]: x: from=\"POP login by user "
           "\"admin\" at (h) 6.6.6.6\"@example.org",
           "Nov 25 04:25:38 mx postfix/smtpd[1]: (v4.0.9) POP login by user "
           "\"a\" at (h) 6.6.6.6",
           "Nov 25 04:25:38 mx qpopperx[1]: (v4.0.9) POP login by user \"a\" "
           "at (h) 6.6.6.6",
           "Nov 25 04:25:38 [popper] (v4.0.9) POP login by user \"a\" at (h) "
           "6.6.6.6",
       }) {
    EXPECT_TRUE(IsNotALogin(Classify(line))) << line;
  }
}

// POP sessions are short: qpopper's logins open no tracked session.
TEST(QpopperLogParserTest, LoginsNameNoSession) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:42 mx in.qpopper[7597]: (v4.0.9) POP login by user "
      "\"dave\" at (client.example.org) 2001:db8::4");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.session, "");
}

}  // namespace
}  // namespace relaysync
