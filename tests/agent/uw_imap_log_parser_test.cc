#include "agent/uw_imap_log_parser.h"

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
  return ClassifyAs("uw-imap", line);
}

TEST(UwImapLogParserTest, ParsesAnImapdLoginWithTheClientsName) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx imapd[4242]: Login user=alice "
      "host=client.example.org [192.0.2.1]");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.1");
  EXPECT_EQ(v.verdict.login.user, "alice");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(v.verdict.login.login_time,
            absl::ToUnixSeconds(UtcTime(2026, 11, 25, 4, 25, 38)));
  EXPECT_EQ(v.form, LogLineForm::kSyslog);
  EXPECT_EQ(v.format->name, "uw-imap");
}

TEST(UwImapLogParserTest, ParsesEveryLoginKind) {
  struct Case {
    const char* line;
    const char* address;
    LocalLogin::Protocol protocol;
  } cases[] = {
      {"Nov 25 04:25:38 mx imapd[1]: Authenticated user=a host=[2001:db8::5] "
       "mech=PLAIN",
       "2001:db8::5", LocalLogin::Protocol::kImap},
      {"Nov 25 04:25:38 mx imapd[1]: Authenticated user=a "
       "host=c.example [::ffff:192.0.2.2]",
       "192.0.2.2", LocalLogin::Protocol::kImap},
      {"2026-11-25T04:28:35+00:00 mx ipop3d[17]: Login user=a "
       "host=[192.0.2.3] nmsgs=3/3",
       "192.0.2.3", LocalLogin::Protocol::kPop3},
      {"Nov 25 04:25:38 mx ipop3d[17]: Login user=a host=c.example "
       "[192.0.2.4] no mailbox",
       "192.0.2.4", LocalLogin::Protocol::kPop3},
      {"Nov 25 04:25:38 mx ipop3d[17]: Auth user=a host=[192.0.2.5] "
       "nmsgs=0/0",
       "192.0.2.5", LocalLogin::Protocol::kPop3},
      {"Nov 25 04:25:38 mx ipop3d[17]: APOP user=a host=[192.0.2.6] "
       "nmsgs=1/2",
       "192.0.2.6", LocalLogin::Protocol::kPop3},
      {"Nov 25 04:25:38 mx ipop3d[17]: Admin Login user=a host=[192.0.2.7] "
       "nmsgs=1/2",
       "192.0.2.7", LocalLogin::Protocol::kPop3},
  };
  for (const Case& c : cases) {
    LogLineVerdict v = Classify(c.line);
    ASSERT_TRUE(IsLogin(v)) << c.line << ": " << v.verdict.reason;
    EXPECT_EQ(v.verdict.login.address, c.address) << c.line;
    EXPECT_EQ(v.verdict.login.user, "a") << c.line;
    EXPECT_EQ(v.verdict.login.protocol, c.protocol) << c.line;
  }
}

TEST(UwImapLogParserTest, AHostFieldInsideTheUserNameYieldsTheRealAddress) {
  for (const char* fake :
       {"x host=[6.6.6.6]", "x host=evil [6.6.6.6]", "x host=[6.6.6.6] mech=X",
        "x [6.6.6.6] nmsgs=1/1", "ip=[6.6.6.6]", "rip=6.6.6.6"}) {
    for (const char* tail :
         {" host=[203.0.113.5]", " host=h.example [203.0.113.5] mech=PLAIN"}) {
      std::string line =
          std::string("Nov 25 04:25:38 mx imapd[1]: Authenticated user=") +
          fake + tail;
      LogLineVerdict v = Classify(line);
      ASSERT_TRUE(IsLogin(v)) << line;
      EXPECT_EQ(v.verdict.login.address, "203.0.113.5") << line;
      EXPECT_EQ(v.verdict.login.user, fake);
    }
  }
}

TEST(UwImapLogParserTest, FailedAndMalformedLoginsAreRefused) {
  for (const char* line : {
           "Nov 25 04:25:38 mx imapd[1]: Login failed user=alice auth=alice "
           "host=c.example [192.0.2.1]",
           "Nov 25 04:25:38 mx ipop3d[1]: Login failure user=alice "
           "host=[192.0.2.1]",
           "Nov 25 04:25:38 mx imapd[1]: AUTHENTICATE PLAIN failure "
           "host=[192.0.2.1]",
       }) {
    LogLineVerdict v = Classify(line);
    EXPECT_TRUE(IsRefused(v)) << line;
    EXPECT_EQ(v.verdict.reason, "failed login");
  }
  for (const char* line : {
           "Nov 25 04:25:38 mx imapd[1]: Login user=a host=UNKNOWN",
           "Nov 25 04:25:38 mx imapd[1]: Login user=a host=[unknown]",
           "Nov 25 04:25:38 mx imapd[1]: Login user=a host=[192.0.2.1] x",
           "Nov 25 04:25:38 mx imapd[1]: Login user=a host=two names "
           "[192.0.2.1]",
           "Nov 25 04:25:38 mx imapd[1]: Login user=a [192.0.2.1]",
           "Nov 25 04:25:38 mx imapd[1]: Login user= host=[192.0.2.1]",
       }) {
    EXPECT_TRUE(IsRefused(Classify(line))) << line;
  }
}

TEST(UwImapLogParserTest, OtherLinesAndOtherProgramsAreNotLogins) {
  for (const char* line : {
           // Session ends without the process id that keys them.
           "Nov 25 04:25:38 mx imapd: Logout user=alice host=[192.0.2.1]",
           "Nov 25 04:25:38 mx imapd: Autologout user=alice "
           "host=[192.0.2.1]",
           "Nov 25 04:25:38 mx imapd[1]: Preauthenticated user=alice "
           "host=[192.0.2.1]",
           "Nov 25 04:25:38 mx ipop3d[1]: IMAP login to host=h user=a "
           "host=[192.0.2.1]",
           "Nov 25 04:25:38 mx imapd[1]: imaps SSL service init from "
           "192.0.2.1",
           "Nov 25 04:25:38 mx sm-mta[1]: x: from=<imapd[1]: Login user=a "
           "host=[6.6.6.6]>",
           "Nov 25 04:25:38 mx imapdx[1]: Login user=a host=[6.6.6.6]",
           "Nov 25 04:25:38 imapd[1]: Login user=a host=[6.6.6.6]",
       }) {
    EXPECT_TRUE(IsNotALogin(Classify(line))) << line;
  }
}

// One imapd process per connection: the session is the syslog PID.
TEST(UwImapLogParserTest, ALoginAndItsEndNameTheSameProcess) {
  LogLineVerdict login = Classify(
      "Nov 25 04:25:38 mx imapd[4242]: Login user=alice "
      "host=client.example.org [2001:db8::5]");
  ASSERT_TRUE(IsLogin(login));
  EXPECT_EQ(login.verdict.session, "uw-imap pid=4242");
  for (const char* line : {
           "Nov 25 05:25:38 mx imapd[4242]: Logout user=alice "
           "host=client.example.org [2001:db8::5]",
           "Nov 25 05:25:38 mx imapd[4242]: Autologout user=alice "
           "host=client.example.org [2001:db8::5]",
           "Nov 25 05:25:38 mx imapd[4242]: Killed (lost mailbox lock) "
           "user=alice host=client.example.org [2001:db8::5]",
           "Nov 25 05:25:38 mx imapd[4242]: Connection reset by peer, while "
           "reading line user=alice host=client.example.org [2001:db8::5]",
           "Nov 25 05:25:38 mx imapd[4242]: Command stream end of file, "
           "while reading line user=alice host=[2001:db8::5]",
       }) {
    LogLineVerdict v = Classify(line);
    ASSERT_TRUE(testing::IsSessionEnd(v)) << line;
    EXPECT_EQ(v.verdict.session, "uw-imap pid=4242") << line;
    EXPECT_EQ(v.verdict.login.user, "alice") << line;
  }
  LogLineVerdict pop = Classify(
      "Nov 25 05:25:38 mx ipop3d[17]: Logout user=bob host=[192.0.2.2] "
      "nmsgs=3 ndele=0");
  ASSERT_TRUE(testing::IsSessionEnd(pop));
  EXPECT_EQ(pop.verdict.session, "uw-imap pid=17");
  EXPECT_EQ(pop.verdict.login.user, "bob");
}

TEST(UwImapLogParserTest, OtherLinesWithAUserAreNoSessionEnds) {
  for (const char* line : {
           "Nov 25 05:25:38 mx imapd[1]: Preauthenticated user=alice "
           "host=[192.0.2.1]",
           "Nov 25 05:25:38 mx imapd[1]: Logout user= host=[192.0.2.1]",
           "Nov 25 05:25:38 mx imapd[1]: Logout user=alice",
       }) {
    EXPECT_TRUE(IsNotALogin(Classify(line))) << line;
  }
}

}  // namespace
}  // namespace relaysync
