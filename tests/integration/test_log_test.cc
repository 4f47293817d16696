// `relaysync-agent test-log FILE`, the real binary: which lines of a mail
// log would count as logins, which look like logins but are refused and
// why, a summary; exit 0, and 2 for bad arguments or an unreadable file.
// Also the agent's refusal of --watch-log with a daemon that logs only
// through syslog.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunCommand;
using testing::ScratchDir;
using testing::WriteFile;

// A mail.log of a host running every daemon, with the lines an
// administrator would want explained.
constexpr char kMailLog[] =
    "Nov 25 04:25:38 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=192.0.2.1, lip=192.0.2.100, mpid=1\n"
    "Nov 25 04:25:39 mx imapd: LOGIN, user=bob, ip=[::ffff:192.0.2.2], "
    "port=[51234], protocol=IMAP\n"
    "Nov 25 04:25:40 mx imapd-ssl: LOGIN FAILED, user=bob, "
    "ip=[::ffff:192.0.2.2]\n"
    "Nov 25 04:25:41 mx cyrus/imap[4242]: login: client.example.org "
    "[2001:db8::3] carol plaintext+TLS User logged in SESSIONID=<s>\n"
    "Nov 25 04:25:42 mx in.qpopper[7597]: (v4.0.9) POP login by user "
    "\"dave\" at (client.example.org) 192.0.2.4 [pop_log.c:244]\n"
    "Nov 25 04:25:43 mx ipop3d[17]: Login user=erin host=[192.0.2.5] "
    "nmsgs=3/3\n"
    "Nov 25 04:25:44 mx sm-mta[99]: x: from=<imapd: LOGIN, user=x, "
    "ip=[6.6.6.6]>\n"
    "Nov 25 04:25:45 mx imapd: LOGIN, user=mallory, ip=[224.0.0.1], "
    "port=[1], protocol=IMAP\n"
    "Nov 25 04:25:46 mx imapd: LOGIN, user=\x1b[2Jx, ip=[192.0.2.6], "
    "port=[1], protocol=IMAP\n"
    "Nov 25 04:25:47 mx kernel: nothing to see\n";

TEST(TestLogTest, ReportsEachLoginAndEachRefusalWithTheFormatThatMatched) {
  ScratchDir dir;
  WriteFile(dir.File("mail.log"), kMailLog);
  std::string out;
  ASSERT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log", "--log-format=auto",
                        dir.File("mail.log")},
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("1: login 192.0.2.1 user \"alice\" imap at "));
  EXPECT_THAT(out, HasSubstr("(dovecot, own log: counts under --watch-log"));
  EXPECT_THAT(out, HasSubstr("2: login 192.0.2.2 user \"bob\" imap at "));
  EXPECT_THAT(out, HasSubstr("(courier, syslog form: counts only under "
                             "--watch-syslog)"));
  EXPECT_THAT(out, HasSubstr("3: refused (courier): failed login\n"));
  EXPECT_THAT(out, HasSubstr("4: login 2001:db8::3 user \"carol\" imap"));
  EXPECT_THAT(out, HasSubstr("(cyrus, syslog form"));
  EXPECT_THAT(out, HasSubstr("5: login 192.0.2.4 user \"dave\" pop3"));
  EXPECT_THAT(out, HasSubstr("(qpopper, syslog form"));
  EXPECT_THAT(out, HasSubstr("6: login 192.0.2.5 user \"erin\" pop3"));
  EXPECT_THAT(out, HasSubstr("(uw-imap, syslog form"));
  EXPECT_THAT(out, Not(HasSubstr("7: ")));  // sendmail quoting Courier
  EXPECT_THAT(out, HasSubstr("8: refused (courier): address 224.0.0.1 is "
                             "never relayed (multicast address"));
  EXPECT_THAT(out, HasSubstr("9: refused (courier): control character"));
  EXPECT_THAT(out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(out, Not(HasSubstr("10: ")));
  EXPECT_THAT(out, HasSubstr(dir.File("mail.log") +
                             ": 10 lines, 5 logins (1 own log, 4 syslog "
                             "form), 3 refused, 0 session ends\n"));
}

TEST(TestLogTest, TheDefaultFormatIsDovecotsAndNeverRelayApplies) {
  ScratchDir dir;
  WriteFile(dir.File("mail.log"), kMailLog);
  std::string out;
  ASSERT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log",
                        "--never-relay=192.0.2.0/24", dir.File("mail.log")},
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("1: refused (dovecot): address 192.0.2.1 is "
                             "never relayed (--never-relay: 192.0.2.0/24)"));
  EXPECT_THAT(out, Not(HasSubstr("courier")));
  EXPECT_THAT(out, HasSubstr(": 10 lines, 0 logins (0 own log, 0 syslog "
                             "form), 1 refused, 0 session ends\n"));
}

TEST(TestLogTest, ExitsTwoForBadArgumentsAndUnreadableFiles) {
  ScratchDir dir;
  WriteFile(dir.File("mail.log"), kMailLog);
  std::string out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log"}, &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("usage: relaysync-agent test-log"));
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log", dir.File("mail.log"),
                        dir.File("mail.log")},
                       &out),
            2)
      << out;
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log", "--log-format=exim",
                        dir.File("mail.log")},
                       &out),
            2)
      << out;
  EXPECT_THAT(out, HasSubstr("unknown log format \"exim\": "
                             "dovecot|courier|cyrus|qpopper|uw-imap|auto"));
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log", "--bogus",
                        dir.File("mail.log")},
                       &out),
            2)
      << out;
  EXPECT_EQ(
      RunCommand({RELAYSYNC_AGENT_BIN, "test-log", dir.File("missing.log")},
                 &out),
      2)
      << out;
  EXPECT_THAT(out, HasSubstr(dir.File("missing.log") +
                             ": cannot open: No such file or directory"));
  EXPECT_EQ(RunCommand({RELAYSYNC_AGENT_BIN, "test-log", dir.path()}, &out), 2)
      << out;
  EXPECT_THAT(out, HasSubstr(dir.path() + ": cannot read: Is a directory"));
}

TEST(TestLogTest, TheAgentRefusesWatchLogWithADaemonThatLogsOnlyToSyslog) {
  ScratchDir dir;
  WriteFile(dir.File("mail.log"), "");
  std::string out;
  EXPECT_EQ(RunCommand(
                {RELAYSYNC_AGENT_BIN, "--coordinator=127.0.0.1:1", "--insecure",
                 "--host-id=h", "--db=" + dir.File("db"),
                 "--spool-dir=" + dir.File("spool"),
                 "--watch-log=" + dir.File("mail.log"), "--log-format=courier"},
                &out),
            2)
      << out;
  EXPECT_THAT(out, HasSubstr("logs only through syslog"));
  EXPECT_EQ(
      RunCommand({RELAYSYNC_AGENT_BIN, "--coordinator=127.0.0.1:1",
                  "--insecure", "--host-id=h", "--db=" + dir.File("db"),
                  "--spool-dir=" + dir.File("spool"), "--log-format=exim"},
                 &out),
      2)
      << out;
  EXPECT_THAT(out, HasSubstr("--log-format: unknown log format \"exim\""));
}

}  // namespace
}  // namespace relaysync
