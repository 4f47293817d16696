#include "agent/dovecot_log_parser.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/agent/log_format_test_util.h"

namespace relaysync {
namespace {

const absl::TimeZone kUtc = absl::UTCTimeZone();

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), kUtc);
}

// A fixed "now" after every sample line below.
const absl::Time kNow = Utc(2026, 11, 25, 12, 0, 0);

std::optional<LocalLogin> Parse(const std::string& line,
                                absl::Time now = kNow) {
  return ParseDovecotLoginLine(line, now, kUtc);
}

TEST(DovecotLogParserTest, ParsesImapLoginFromDovecotsOwnLog) {
  std::optional<LocalLogin> login = Parse(
      "Nov 25 04:25:38 imap-login: Info: Login: user=<alice>, method=PLAIN, "
      "rip=127.0.0.2, lip=127.0.0.1, mpid=25535, session=<k3PzL0oOQOh/AAAB>");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "127.0.0.2");
  EXPECT_EQ(login->user, "alice");
  EXPECT_EQ(login->protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(login->login_time,
            absl::ToUnixSeconds(Utc(2026, 11, 25, 4, 25, 38)));
  EXPECT_EQ(login->source, "log");
}

TEST(DovecotLogParserTest, ParsesPop3LoginFromDovecotsOwnLog) {
  std::optional<LocalLogin> login = Parse(
      "Nov 25 04:26:01 pop3-login: Info: Login: user=<bob@example.org>, "
      "method=CRAM-MD5, rip=192.0.2.77, lip=192.0.2.1, mpid=25540, TLS, "
      "session=<abc>");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "192.0.2.77");
  EXPECT_EQ(login->user, "bob@example.org");
  EXPECT_EQ(login->protocol, LocalLogin::Protocol::kPop3);
}

TEST(DovecotLogParserTest, ParsesSyslogForms) {
  std::optional<LocalLogin> login = Parse(
      "Nov 25 04:28:35 mx dovecot: imap-login: Login: user=<alice>, "
      "method=PLAIN, rip=198.51.100.4, lip=198.51.100.1, mpid=1, "
      "session=<x>");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "198.51.100.4");
  EXPECT_EQ(login->protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(login->login_time,
            absl::ToUnixSeconds(Utc(2026, 11, 25, 4, 28, 35)));

  login = Parse(
      "Nov 25 04:28:36 mx.example.org dovecot[812]: pop3-login: Info: Login: "
      "user=<carol>, method=PLAIN, rip=198.51.100.5, lip=198.51.100.1");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "198.51.100.5");
  EXPECT_EQ(login->user, "carol");
  EXPECT_EQ(login->protocol, LocalLogin::Protocol::kPop3);
}

TEST(DovecotLogParserTest, ParsesRfc3339SyslogTimestamps) {
  std::optional<LocalLogin> login = Parse(
      "2026-11-25T04:28:35.123456+00:00 mx dovecot[9]: imap-login: Login: "
      "user=<alice>, method=PLAIN, rip=203.0.113.9, lip=203.0.113.1, mpid=3");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "203.0.113.9");
  EXPECT_EQ(login->login_time,
            absl::ToUnixSeconds(Utc(2026, 11, 25, 4, 28, 35)));

  // The offset is honoured: 05:28:35+01:00 is 04:28:35 UTC.
  login = Parse(
      "2026-11-25T05:28:35+01:00 mx dovecot: imap-login: Login: "
      "user=<alice>, method=PLAIN, rip=203.0.113.9, lip=203.0.113.1");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->login_time,
            absl::ToUnixSeconds(Utc(2026, 11, 25, 4, 28, 35)));
}

TEST(DovecotLogParserTest, TellsDovecotsOwnLogFromSyslogForms) {
  DovecotLineForm form = DovecotLineForm::kSyslog;
  ASSERT_TRUE(ParseDovecotLoginLine(
                  "Nov 25 04:25:38 imap-login: Info: Login: user=<alice>, "
                  "method=PLAIN, rip=127.0.0.2, lip=127.0.0.1",
                  kNow, kUtc, &form)
                  .has_value());
  EXPECT_EQ(form, DovecotLineForm::kOwnLog);
  for (const char* line : {
           "Nov 25 04:28:35 mx dovecot: imap-login: Login: user=<a>, "
           "method=PLAIN, rip=198.51.100.4, lip=198.51.100.1",
           "Nov 25 04:28:35 mx dovecot[1]: imap-login: Info: Login: user=<a>, "
           "method=PLAIN, rip=198.51.100.4, lip=198.51.100.1",
           "2026-11-25T04:28:35.123456+00:00 mx dovecot: imap-login: Login: "
           "user=<a>, method=PLAIN, rip=198.51.100.4, lip=198.51.100.1",
       }) {
    form = DovecotLineForm::kOwnLog;
    ASSERT_TRUE(ParseDovecotLoginLine(line, kNow, kUtc, &form).has_value())
        << line;
    EXPECT_EQ(form, DovecotLineForm::kSyslog) << line;
  }
}

TEST(DovecotLogParserTest, AcceptsSpaceAndZeroPaddedDays) {
  const char* tail =
      " imap-login: Info: Login: user=<a>, method=PLAIN, rip=192.0.2.1, "
      "lip=192.0.2.2";
  for (const char* stamp : {"Nov  5 01:02:03", "Nov 05 01:02:03"}) {
    std::optional<LocalLogin> login = Parse(std::string(stamp) + tail);
    ASSERT_TRUE(login.has_value()) << stamp;
    EXPECT_EQ(login->login_time,
              absl::ToUnixSeconds(Utc(2026, 11, 5, 1, 2, 3)));
  }
}

TEST(DovecotLogParserTest, CanonicalizesIpv6AndMappedAddresses) {
  std::optional<LocalLogin> login = Parse(
      "Nov 25 04:25:38 imap-login: Info: Login: user=<v6>, method=PLAIN, "
      "rip=2001:DB8:0:0::5, lip=2001:db8::1, mpid=1");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "2001:db8::5");

  login = Parse(
      "Nov 25 04:25:38 mx dovecot: imap-login: Login: user=<m>, "
      "method=PLAIN, rip=::ffff:192.0.2.44, lip=::ffff:192.0.2.1, mpid=1");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "192.0.2.44");
}

TEST(DovecotLogParserTest, InjectedFieldsInTheUserNameYieldTheRealAddress) {
  for (const char* fake :
       {"evil>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
        "evil>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4, mpid=1, session=<x>",
        ">, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4>, method=X, rip=6.6.6.6, "
        "lip=6.6.6.6"}) {
    std::string line =
        std::string("Nov 25 04:25:38 imap-login: Info: Login: user=<") + fake +
        ">, method=PLAIN, rip=203.0.113.5, lip=203.0.113.1, mpid=7, "
        "session=<abc>";
    std::optional<LocalLogin> login = Parse(line);
    ASSERT_TRUE(login.has_value()) << line;
    EXPECT_EQ(login->address, "203.0.113.5") << line;
    EXPECT_EQ(login->user, fake);
  }
}

TEST(DovecotLogParserTest, InjectionThatBreaksTheRealTailYieldsNothing) {
  const std::string head =
      "Nov 25 04:25:38 mx dovecot: imap-login: Login: user=<";
  for (const std::string& line : {
           // The real rip is not an address: nothing, not the fake one.
           head + "e>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4>, method=PLAIN, "
                  "rip=unknown, lip=203.0.113.1",
           // A line cut by syslog after a fake tail: too long to be trusted.
           head + "e>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4, mpid=1, " +
               std::string(1000, 'A'),
           // Fake tail only, then a user name that is far too long.
           head + std::string(300, 'u') +
               ">, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
       }) {
    std::optional<LocalLogin> login = Parse(line);
    EXPECT_FALSE(login.has_value()) << line << " -> " << login->address;
  }
}

TEST(DovecotLogParserTest, IgnoresOtherProgramsQuotingLoginText) {
  for (const char* line : {
           "Nov 25 04:28:35 mx sm-mta[123]: 4APAbc: from=<imap-login: Login: "
           "user=<a>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4>, size=1",
           "Nov 25 04:28:35 mx postfix/smtpd[77]: connect from "
           "imap-login: Login: user=<a>, method=PLAIN, rip=6.6.6.6, "
           "lip=1.2.3.4",
           "Nov 25 04:28:35 mx dovecotx: imap-login: Login: user=<a>, "
           "method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
           "Nov 25 04:28:35 mx sshd[1]: dovecot: imap-login: Login: "
           "user=<a>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
           "Nov 25 04:28:35 mx dovecot: submission-login: Login: user=<a>, "
           "method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
           "Nov 25 04:28:35 mx dovecot: imap(alice): Info: Login: user=<a>, "
           "method=PLAIN, rip=6.6.6.6, lip=1.2.3.4",
           "Nov 25 04:28:35 imap-login: Login: user=<a>, method=PLAIN, "
           "rip=6.6.6.6, lip=1.2.3.4",
       }) {
    EXPECT_FALSE(Parse(line).has_value()) << line;
  }
}

TEST(DovecotLogParserTest, IgnoresFailedAndAbortedLogins) {
  for (const char* line : {
           "Nov 25 04:25:40 imap-login: Info: Disconnected: Connection closed "
           "(auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1, session=<x>",
           "Nov 25 04:25:40 imap-login: Info: Disconnected (auth failed, 1 "
           "attempts in 2 secs): user=<alice>, method=PLAIN, rip=127.0.0.2, "
           "lip=127.0.0.1",
           "Nov 25 04:25:40 mx dovecot: pop3-login: Aborted login (auth "
           "failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1",
           "Nov 25 04:25:40 mx dovecot: imap-login: Login aborted: Connection "
           "closed (auth failed, 1 attempts in 2 secs) (auth_failed): "
           "user=<alice>, method=PLAIN, rip=127.0.0.2, lip=127.0.0.1",
       }) {
    EXPECT_FALSE(Parse(line).has_value()) << line;
  }
}

TEST(DovecotLogParserTest, DecemberLineReadInJanuaryBelongsToLastYear) {
  absl::Time new_year = Utc(2027, 1, 1, 0, 0, 30);
  std::optional<LocalLogin> login = Parse(
      "Dec 31 23:59:58 imap-login: Info: Login: user=<a>, method=PLAIN, "
      "rip=192.0.2.1, lip=192.0.2.2",
      new_year);
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->login_time,
            absl::ToUnixSeconds(Utc(2026, 12, 31, 23, 59, 58)));
}

TEST(DovecotLogParserTest, SlightlyFutureTimesAreClampedToNow) {
  const char* tail =
      " mx dovecot: imap-login: Login: user=<a>, method=PLAIN, "
      "rip=192.0.2.1, lip=192.0.2.2";
  std::optional<LocalLogin> login =
      Parse(std::string("Nov 25 12:05:00") + tail);
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->login_time, absl::ToUnixSeconds(kNow));
  login = Parse(std::string("2030-01-01T00:00:00Z") + tail);
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->login_time, absl::ToUnixSeconds(kNow));
}

TEST(DovecotLogParserTest, RejectsImpossibleDates) {
  // 2026 and 2025 are not leap years.
  EXPECT_FALSE(Parse("Feb 29 10:00:00 imap-login: Info: Login: user=<a>, "
                     "method=PLAIN, rip=192.0.2.1, lip=192.0.2.2")
                   .has_value());
  EXPECT_FALSE(Parse("Nov 25 24:00:00 imap-login: Info: Login: user=<a>, "
                     "method=PLAIN, rip=192.0.2.1, lip=192.0.2.2")
                   .has_value());
}

TEST(DovecotLogParserTest, RejectsGarbageAndTruncatedLines) {
  const std::string full =
      "Nov 25 04:25:38 imap-login: Info: Login: user=<alice>, method=PLAIN, "
      "rip=127.0.0.2, lip=127.0.0.1";
  ASSERT_TRUE(Parse(full).has_value());
  // Every proper prefix that cuts into the fields is refused; lip=127.0.0.1
  // cut to "lip=127.0.0" or shorter is not an address either.
  for (size_t n = 0; n + 2 < full.size(); ++n) {
    EXPECT_FALSE(Parse(full.substr(0, n)).has_value()) << full.substr(0, n);
  }
  for (const char* line : {
           "",
           "\n",
           "Nov",
           "garbage",
           "Nov 25 04:25:38",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<alice",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=, "
           "rip=127.0.0.2, lip=127.0.0.1",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=127.0.0.2 , lip=127.0.0.1",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1 trailing",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=fe80::1%eth0, lip=127.0.0.1",
           "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=010.0.0.1, lip=127.0.0.1",
           "Foo 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1",
           "2026-11-25 04:28:35 mx dovecot: imap-login: Login: user=<a>, "
           "method=PLAIN, rip=127.0.0.2, lip=127.0.0.1",
           " Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
           "rip=127.0.0.2, lip=127.0.0.1",
       }) {
    EXPECT_FALSE(Parse(line).has_value()) << line;
  }
}

TEST(DovecotLogParserTest, ToleratesCarriageReturn) {
  std::optional<LocalLogin> login = Parse(
      "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
      "rip=127.0.0.2, lip=127.0.0.1\r");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, "127.0.0.2");
}

// Dovecot and rsyslog never write a raw control character, so a line with
// one is not theirs. (Before this rule, such a line was parsed, and its
// user name carried the NUL, newline or escape sequence onward.)
TEST(DovecotLogParserTest, LinesWithControlCharactersAreRefused) {
  const std::string tail =
      ">, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=1";
  const std::vector<std::string> users = {
      std::string("a\0b", 3), "a\nb", "a\tb", "a\x1b[2Kb", "a\rb", "a\x7f"};
  for (const std::string& user : users) {
    std::string line = absl::StrCat(
        "Nov 25 04:25:38 imap-login: Info: Login: user=<", user, tail);
    EXPECT_FALSE(Parse(line).has_value()) << absl::CEscape(line);
  }
  EXPECT_TRUE(
      Parse(absl::StrCat("Nov 25 04:25:38 imap-login: Info: Login: user=<a",
                         tail, "\r"))
          .has_value());
}

// Session ends (agent/session_tracker.h). The lines are Dovecot 2.3.19's,
// captured from the real daemon the e2e tests run: an IMAP LOGOUT, an IMAP
// client in IDLE that closed its connection, a POP3 QUIT and a POP3 close.
LogLineVerdict ClassifyDovecot(absl::string_view line) {
  return testing::ClassifyAs("dovecot", line);
}

TEST(DovecotLogParserTest, ALoginNamesItsSession) {
  LogLineVerdict v = ClassifyDovecot(
      "Dec 02 11:34:34 imap-login: Info: Login: user=<alice>, method=PLAIN, "
      "rip=2001:db8::7, lip=2001:db8::1, mpid=17224, secured, "
      "session=<Oxv8BqVhfuZ/AAAB>");
  ASSERT_TRUE(testing::IsLogin(v)) << v.verdict.reason;
  EXPECT_EQ(v.verdict.login.address, "2001:db8::7");
  EXPECT_EQ(v.verdict.session, "dovecot session=<Oxv8BqVhfuZ/AAAB>");
  // Without session=<...> (Dovecot before 2.1): a login, keyed by nothing.
  v = ClassifyDovecot(
      "Nov 25 04:25:38 imap-login: Info: Login: user=<a>, method=PLAIN, "
      "rip=192.0.2.1, lip=192.0.2.2, mpid=1");
  ASSERT_TRUE(testing::IsLogin(v));
  EXPECT_EQ(v.verdict.session, "");
}

TEST(DovecotLogParserTest, RecognizesTheRealSessionEndLines) {
  struct Case {
    const char* line;
    const char* session;
  } cases[] = {
      {"Dec 02 11:34:35 imap(alice)<17224><Oxv8BqVhfuZ/AAAB>: Info: "
       "Disconnected: Logged out in=8 out=468 deleted=0 expunged=0 "
       "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
       "dovecot session=<Oxv8BqVhfuZ/AAAB>"},
      {"Dec 02 11:34:36 imap(alice)<17226><33gFB6VhgOZ/AAAB>: Info: "
       "Disconnected: Connection closed (IDLE running for 0.001 + waiting "
       "input for 0.700 secs, 0.001 in locks, 2 B in + 10 B out, "
       "state=wait-input) in=24 out=721 deleted=0 expunged=0 trashed=0 "
       "hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
       "dovecot session=<33gFB6VhgOZ/AAAB>"},
      {"Dec 02 11:34:37 pop3(alice)<17236><e4IcB6VhnpR/AAAB>: Info: "
       "Disconnected: Logged out top=0/0, retr=0/0, del=0/0, size=0",
       "dovecot session=<e4IcB6VhnpR/AAAB>"},
      {"Dec 02 11:34:38 pop3(alice)<17260><ksgoB6VhqJR/AAAB>: Info: "
       "Disconnected: Connection closed top=0/0, retr=0/0, del=0/0, size=0",
       "dovecot session=<ksgoB6VhqJR/AAAB>"},
      // Inactivity, and syslog's form (no "Info: ").
      {"Dec 02 11:34:38 imap(alice)<1><AAAA>: Info: Disconnected: "
       "Inactivity - no input for 1800 secs in=0 out=0",
       "dovecot session=<AAAA>"},
      {"Dec 02 11:34:38 mx dovecot[900]: imap(alice)<1><AAAA>: Logged out "
       "in=8 out=468",
       "dovecot session=<AAAA>"},
  };
  for (const Case& c : cases) {
    LogLineVerdict v = ClassifyDovecot(c.line);
    ASSERT_TRUE(testing::IsSessionEnd(v)) << c.line;
    EXPECT_EQ(v.verdict.session, c.session) << c.line;
    EXPECT_EQ(v.verdict.login.user, "alice") << c.line;
  }
}

TEST(DovecotLogParserTest, OtherMailProcessLinesEndNoSession) {
  for (const char* line : {
           // Not an end.
           "Dec 02 11:34:35 imap(alice)<1><AAAA>: Info: Mailbox INBOX "
           "opened",
           // Dovecot 2.2's prefix has no session: nothing to match.
           "Dec 02 11:34:35 imap(alice): Info: Logged out in=8 out=468",
           // The own log always names the level.
           "Dec 02 11:34:35 imap(alice)<1><AAAA>: Logged out in=8",
           // Other processes, and the login process's own disconnects.
           "Dec 02 11:34:35 lmtp(alice)<1><AAAA>: Info: Disconnected",
           "Dec 02 11:34:35 imap-login: Info: Disconnected: Connection "
           "closed (no auth attempts in 0 secs): user=<>, rip=192.0.2.1",
           "Dec 02 11:34:35 imap()<1><AAAA>: Info: Logged out",
           // In the own log, a user with a space: the line could be read as
           // syslog's "HOST PROGRAM: " by another format.
           "Dec 02 11:34:35 imap(a b)<1><AAAA>: Info: Logged out",
       }) {
    EXPECT_TRUE(testing::IsNotALogin(ClassifyDovecot(line))) << line;
  }
}

// The user name is not escaped in the prefix: a fake prefix inside it does
// not choose the session.
TEST(DovecotLogParserTest, AFakePrefixInTheUserNameDoesNotChooseTheSession) {
  LogLineVerdict v = ClassifyDovecot(
      "Dec 02 11:34:35 mx dovecot: imap(bob)<1><VICTIM>: Info: Logged "
      "out)<2><REAL>: Info: Disconnected: Logged out in=1 out=2");
  ASSERT_TRUE(testing::IsSessionEnd(v));
  EXPECT_EQ(v.verdict.session, "dovecot session=<REAL>");
  EXPECT_EQ(v.verdict.login.user, "bob)<1><VICTIM>: Info: Logged out");
  // Text after the real prefix (a mailbox name) that holds a fake one
  // yields a user with a space, which Dovecot's own log cannot have here,
  // and in syslog's form a user that is not the login's.
  EXPECT_TRUE(testing::IsNotALogin(
      ClassifyDovecot("Dec 02 11:34:35 imap(mallory)<2><REAL>: Info: Mailbox "
                      "x)<1><VICTIM>: Info: Logged out created")));
  v = ClassifyDovecot(
      "Dec 02 11:34:35 mx dovecot: imap(mallory)<2><REAL>: Mailbox "
      "x)<1><VICTIM>: Info: Logged out created");
  ASSERT_TRUE(testing::IsSessionEnd(v));
  EXPECT_EQ(v.verdict.session, "dovecot session=<VICTIM>");
  EXPECT_NE(v.verdict.login.user, "bob");
}

// Found by the log_formats fuzzer: no line is both a Dovecot own-log line
// and another format's syslog line.
TEST(DovecotLogParserTest, AnOwnLogSessionEndIsNoOtherFormatsLine) {
  const std::string line =
      "Nov 25 04:25:38 imap(a imapd: LOGIN, user=x, ip=[192.0.2.9], "
      "port=[1])<1><X>: Info: Disconnected: Logged out";
  EXPECT_TRUE(testing::IsNotALogin(ClassifyDovecot(line)));
  EXPECT_EQ(testing::ClassifyAs("auto", line).format,
            testing::ClassifyAs("courier", line).format);
}

}  // namespace
}  // namespace relaysync
