#include "agent/courier_log_parser.h"

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
  return ClassifyAs("courier", line);
}

TEST(CourierLogParserTest, ParsesAnImapdLoginWithAMappedAddress) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx imapd: LOGIN, user=alice@example.org, "
      "ip=[::ffff:192.0.2.1], port=[51234], protocol=IMAP");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.1");
  EXPECT_EQ(v.verdict.login.user, "alice@example.org");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(v.verdict.login.login_time,
            absl::ToUnixSeconds(UtcTime(2026, 11, 25, 4, 25, 38)));
  EXPECT_EQ(v.verdict.login.source, "log");
  EXPECT_EQ(v.form, LogLineForm::kSyslog);
  EXPECT_EQ(v.format->name, "courier");
}

TEST(CourierLogParserTest, ParsesTheSslAndPop3VariantsAndIpv6) {
  LogLineVerdict v = Classify(
      "2026-11-25T04:28:35.123456+00:00 mx pop3d-ssl[812]: LOGIN, user=bob, "
      "ip=[2001:DB8::5], port=[40110], protocol=POP3, stls=1");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "2001:db8::5");
  EXPECT_EQ(v.verdict.login.user, "bob");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kPop3);
  EXPECT_EQ(v.verdict.login.login_time,
            absl::ToUnixSeconds(UtcTime(2026, 11, 25, 4, 28, 35)));

  v = Classify(
      "Nov  5 01:02:03 mx.example.org imapd-ssl: LOGIN, user=carol, "
      "ip=[192.0.2.9], port=[993], protocol=IMAP");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.9");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kImap);

  // Older releases end the line after the address.
  v = Classify("Nov 25 04:25:38 mx pop3d: LOGIN, user=dave, ip=[192.0.2.10]");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.10");
}

TEST(CourierLogParserTest, AnIpFieldInsideTheUserNameYieldsTheRealAddress) {
  for (const char* fake : {"x, ip=[6.6.6.6]", "x, ip=[6.6.6.6], port=[1]",
                           "x, ip=[6.6.6.6], port=[1], protocol=IMAP",
                           "rip=6.6.6.6", ", ip=[6.6.6.6"}) {
    std::string line = std::string("Nov 25 04:25:38 mx imapd: LOGIN, user=") +
                       fake + ", ip=[::ffff:203.0.113.5], port=[2], " +
                       "protocol=IMAP";
    LogLineVerdict v = Classify(line);
    ASSERT_TRUE(IsLogin(v)) << line;
    EXPECT_EQ(v.verdict.login.address, "203.0.113.5") << line;
    EXPECT_EQ(v.verdict.login.user, fake);
  }
}

TEST(CourierLogParserTest, FailedLoginsAreRefused) {
  for (const char* line : {
           "Nov 25 04:25:38 mx imapd: LOGIN FAILED, user=alice, "
           "ip=[::ffff:192.0.2.1]",
           "Nov 25 04:25:38 mx pop3d-ssl: LOGIN FAILED, method=PLAIN, "
           "user=alice, ip=[::ffff:192.0.2.1]",
       }) {
    LogLineVerdict v = Classify(line);
    EXPECT_TRUE(IsRefused(v)) << line;
    EXPECT_EQ(v.verdict.reason, "failed login");
  }
}

TEST(CourierLogParserTest, RefusesAnAddressThatIsNotOne) {
  for (const char* line : {
           "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[unknown], port=[1]",
           "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[fe80::1%eth0]",
           "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[192.0.2.1]x",
           "Nov 25 04:25:38 mx imapd: LOGIN, user=a, ip=[192.0.2.1",
           "Nov 25 04:25:38 mx imapd: LOGIN, user=, ip=[192.0.2.1]",
       }) {
    EXPECT_TRUE(IsRefused(Classify(line))) << line;
  }
}

TEST(CourierLogParserTest, OtherLinesAndOtherProgramsAreNotLogins) {
  for (const char* line : {
           // Session ends and connections.
           "Nov 25 04:25:38 mx imapd: LOGOUT, user=alice, "
           "ip=[::ffff:192.0.2.1], headers=0, body=0, rcvd=12, sent=46, "
           "time=3",
           "Nov 25 04:25:38 mx imapd: DISCONNECTED, user=alice, "
           "ip=[::ffff:192.0.2.1], headers=0, body=0, time=3",
           "Nov 25 04:25:38 mx pop3d: TIMEOUT, user=alice, "
           "ip=[::ffff:192.0.2.1], top=0, retr=0, time=300",
           "Nov 25 04:25:38 mx imapd: Connection, ip=[::ffff:192.0.2.1]",
           // Another program quoting the text.
           "Nov 25 04:25:38 mx sm-mta[123]: 4APAbc: from=<imapd: LOGIN, "
           "user=x, ip=[6.6.6.6]>, size=1",
           "Nov 25 04:25:38 mx postfix/smtpd[77]: NOQUEUE: reject: RCPT from "
           "unknown[6.6.6.6]: LOGIN, user=x, ip=[6.6.6.6]",
           "Nov 25 04:25:38 mx imapdx: LOGIN, user=x, ip=[6.6.6.6]",
           "Nov 25 04:25:38 mx courierlogger: LOGIN, user=x, ip=[6.6.6.6]",
           "Nov 25 04:25:38 mx sshd[1]: imapd: LOGIN, user=x, ip=[6.6.6.6]",
           // No host: not syslog's form, and Courier has no log of its own.
           "Nov 25 04:25:38 imapd: LOGIN, user=x, ip=[6.6.6.6]",
           // Not anchored at the start.
           " Nov 25 04:25:38 mx imapd: LOGIN, user=x, ip=[6.6.6.6]",
           "x Nov 25 04:25:38 mx imapd: LOGIN, user=x, ip=[6.6.6.6]",
       }) {
    EXPECT_TRUE(IsNotALogin(Classify(line))) << line;
  }
}

// Session ends, in Courier 5's form ("%s, user=%s, ip=[%s], port=[%s],
// headers=..."; pop3d's counters are top= and retr=).
TEST(CourierLogParserTest, ALoginAndItsEndNameTheSameSession) {
  LogLineVerdict login = Classify(
      "Nov 25 04:25:38 mx imapd-ssl: LOGIN, user=alice, "
      "ip=[::ffff:192.0.2.1], port=[51234], protocol=IMAP");
  ASSERT_TRUE(IsLogin(login));
  EXPECT_EQ(login.verdict.session, "courier ip=[192.0.2.1] port=[51234]");
  for (const char* line : {
           "Nov 25 05:25:38 mx imapd-ssl: LOGOUT, user=alice, "
           "ip=[::ffff:192.0.2.1], port=[51234], headers=0, body=0, "
           "rcvd=12, sent=46, time=3600, starttls=1",
           "Nov 25 05:25:38 mx imapd-ssl: DISCONNECTED, user=alice, "
           "ip=[::ffff:192.0.2.1], port=[51234], headers=0, body=0, "
           "rcvd=12, sent=46, time=3600",
           "Nov 25 05:25:38 mx imapd-ssl: TIMEOUT, user=alice, "
           "ip=[::ffff:192.0.2.1], port=[51234], headers=0, body=0, "
           "rcvd=12, sent=46, time=3600",
           "Nov 25 05:25:38 mx imapd-ssl: Disconnected during shutdown by "
           "signal, user=alice, ip=[::ffff:192.0.2.1], port=[51234], "
           "headers=0, body=0, rcvd=12, sent=46, time=3600",
       }) {
    LogLineVerdict v = Classify(line);
    ASSERT_TRUE(testing::IsSessionEnd(v)) << line;
    EXPECT_EQ(v.verdict.session, login.verdict.session) << line;
    EXPECT_EQ(v.verdict.login.user, "alice") << line;
  }
}

TEST(CourierLogParserTest, Ipv6AndPop3SessionEnds) {
  LogLineVerdict login = Classify(
      "Nov 25 04:25:38 mx pop3d: LOGIN, user=bob, ip=[2001:db8::5], "
      "port=[40000], protocol=POP3");
  ASSERT_TRUE(IsLogin(login));
  EXPECT_EQ(login.verdict.session, "courier ip=[2001:db8::5] port=[40000]");
  LogLineVerdict end = Classify(
      "Nov 25 04:25:40 mx pop3d: LOGOUT, user=bob, ip=[2001:db8::5], "
      "port=[40000], top=0, retr=15543, rcvd=88, sent=16288, time=2");
  ASSERT_TRUE(testing::IsSessionEnd(end));
  EXPECT_EQ(end.verdict.session, login.verdict.session);
}

TEST(CourierLogParserTest, TheUserNameCannotChooseTheSessionEnded) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:40 mx imapd: LOGOUT, user=x, ip=[192.0.2.9], "
      "port=[1], ip=[192.0.2.1], port=[51234], headers=0, body=0, time=3");
  ASSERT_TRUE(testing::IsSessionEnd(v));
  EXPECT_EQ(v.verdict.session, "courier ip=[192.0.2.1] port=[51234]");
  EXPECT_EQ(v.verdict.login.user, "x, ip=[192.0.2.9], port=[1]");
}

// Courier before 4 wrote no port: an address alone is not a connection.
TEST(CourierLogParserTest, WithoutAPortThereIsNoSession) {
  LogLineVerdict login = Classify(
      "Jan 15 12:22:37 mx pop3d: LOGIN, user=a, ip=[::ffff:192.0.2.1]");
  ASSERT_TRUE(IsLogin(login));
  EXPECT_EQ(login.verdict.session, "");
  EXPECT_TRUE(
      IsNotALogin(Classify("Jan 15 12:22:37 mx pop3d: LOGOUT, user=a, "
                           "ip=[::ffff:192.0.2.1], top=0, retr=15543, rcvd=88, "
                           "sent=16288, time=0")));
}

}  // namespace
}  // namespace relaysync
