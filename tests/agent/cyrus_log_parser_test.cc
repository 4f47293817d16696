#include "agent/cyrus_log_parser.h"

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
  return ClassifyAs("cyrus", line);
}

TEST(CyrusLogParserTest, ParsesAnImapLoginWithTheClientsName) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx cyrus/imap[4242]: login: client.example.org "
      "[192.0.2.1] alice plaintext+TLS User logged in "
      "SESSIONID=<mx-4242-1764044738-1-1234567890>");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.1");
  EXPECT_EQ(v.verdict.login.user, "alice");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(v.verdict.login.login_time,
            absl::ToUnixSeconds(UtcTime(2026, 11, 25, 4, 25, 38)));
  EXPECT_EQ(v.form, LogLineForm::kSyslog);
  EXPECT_EQ(v.format->name, "cyrus");
}

TEST(CyrusLogParserTest, ParsesPop3AndIpv6AndMappedAddresses) {
  LogLineVerdict v = Classify(
      "2026-11-25T04:28:35+00:00 mx cyrus/pop3s[17]: login: [2001:db8::5] "
      "bob@example.org PLAIN User logged in");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "2001:db8::5");
  EXPECT_EQ(v.verdict.login.user, "bob@example.org");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kPop3);

  v = Classify(
      "Nov 25 04:25:38 mx cyrus/imaps[9]: login: client [::ffff:192.0.2.7] "
      "carol DIGEST-MD5 User logged in SESSIONID=<s>");
  ASSERT_TRUE(IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "192.0.2.7");
  EXPECT_EQ(v.verdict.login.protocol, LocalLogin::Protocol::kImap);
}

TEST(CyrusLogParserTest, TheUserNameCannotMoveTheAddress) {
  // The client's address comes before the user name in Cyrus' line.
  for (const char* fake : {"[6.6.6.6]", "x [6.6.6.6] y", "ip=[6.6.6.6]",
                           "rip=6.6.6.6", "a PLAIN User logged in"}) {
    std::string line = std::string(
                           "Nov 25 04:25:38 mx cyrus/imap[1]: login: "
                           "host.example [203.0.113.5] ") +
                       fake + " plaintext User logged in SESSIONID=<x>";
    LogLineVerdict v = Classify(line);
    ASSERT_TRUE(IsLogin(v)) << line;
    EXPECT_EQ(v.verdict.login.address, "203.0.113.5") << line;
    EXPECT_EQ(v.verdict.login.user, fake);
  }
}

TEST(CyrusLogParserTest, FailedAndOddLoginsAreRefused) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx cyrus/imap[1]: badlogin: client.example.org "
      "[192.0.2.1] plaintext alice SASL(-13): authentication failure: "
      "checkpass failed");
  EXPECT_TRUE(IsRefused(v));
  EXPECT_EQ(v.verdict.reason, "failed login");
  for (const char* line : {
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [unknown] alice "
           "plaintext User logged in",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [unix socket] alice "
           "plaintext User logged in",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [fe80::1%eth0] alice "
           "plaintext User logged in",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [192.0.2.1] alice "
           "plaintext",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [192.0.2.1] alice "
           "plaintext User logged in trailing",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: [192.0.2.1] plaintext "
           "User logged in",
           "Nov 25 04:25:38 mx cyrus/imap[1]: login: host 192.0.2.1 alice "
           "plaintext User logged in",
       }) {
    EXPECT_TRUE(IsRefused(Classify(line))) << line;
  }
}

TEST(CyrusLogParserTest, OtherLinesAndOtherProgramsAreNotLogins) {
  for (const char* line : {
           "Nov 25 04:25:38 mx cyrus/imap[1]: accepted connection",
           "Nov 25 04:25:38 mx cyrus/imap[1]: USAGE alice user: 0.0 sys: 0.0",
           "Nov 25 04:25:38 mx cyrus/lmtp[1]: login: [6.6.6.6] x plaintext "
           "User logged in",
           "Nov 25 04:25:38 mx cyrus/sieve[1]: login: [6.6.6.6] x plaintext "
           "User logged in",
           "Nov 25 04:25:38 mx cyrus/imap-x[1]: login: [6.6.6.6] x plaintext "
           "User logged in",
           "Nov 25 04:25:38 mx imap[1]: login: [6.6.6.6] x plaintext User "
           "logged in",
           "Nov 25 04:25:38 mx sm-mta[1]: x: from=<cyrus/imap[1]: login: "
           "[6.6.6.6] x plaintext User logged in>",
           "Nov 25 04:25:38 cyrus/imap[1]: login: [6.6.6.6] x plaintext User "
           "logged in",
       }) {
    EXPECT_TRUE(IsNotALogin(Classify(line))) << line;
  }
}

// Cyrus 3.6's imapd logs no line when a session ends (its processes serve
// one connection after another): a login opens no tracked session.
TEST(CyrusLogParserTest, LoginsNameNoSession) {
  LogLineVerdict v = Classify(
      "Nov 25 04:25:38 mx cyrus/imap[4242]: login: c.example [2001:db8::3] "
      "carol plaintext+TLS User logged in SESSIONID=<cyrus-4242-1-1-x>");
  ASSERT_TRUE(IsLogin(v));
  EXPECT_EQ(v.verdict.session, "");
}

}  // namespace
}  // namespace relaysync
