// The agent with --watch-journal, against real journal files (written by
// systemd-journal-remote, with the fields journald would set): a login that
// dovecot.service wrote relays through every host of the cluster, an entry
// forged with `logger -t dovecot` through none, and a login written while
// the agent is down relays once it is back. Also the flag errors.
#include <signal.h>
#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/journal_files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::AppendJournalEntries;
using testing::Cluster;
using ::testing::HasSubstr;
using testing::JournalEntry;
using testing::RunCommand;
using testing::ScratchDir;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);

// Stamped now: older logins could be past the coordinator's expiry.
JournalEntry Login(const std::string& ip) {
  JournalEntry e;
  e.message =
      absl::StrCat("imap-login: Login: user=<alice>, method=PLAIN, rip=", ip,
                   ", lip=192.0.2.1, mpid=1, TLS, session=<abc>");
  e.time = absl::Now();
  return e;
}

TEST(JournalTest, AJournalLoginRelaysEverywhereAndAForgedOneNowhere) {
  Cluster c(2);
  const std::string journal = c.dir() + "/journal";
  const std::string file = journal + "/system.journal";
  ASSERT_EQ(mkdir(journal.c_str(), 0700), 0);
  c.AddAgentFlags(0, {"--watch-journal", "--journal-directory=" + journal});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // The journal was empty at the first start: everything in it is new.
  JournalEntry forged = Login("192.0.2.66");
  forged.unit = "session-3.scope";
  forged.comm = "logger";
  forged.exe = "/usr/bin/logger";
  absl::Status s = AppendJournalEntries(file, {forged, Login("192.0.2.10")});
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.10"); }, kPropagation))
      << c.Logs();
  EXPECT_FALSE(c.Lookup(0, "192.0.2.66").has_value());
  EXPECT_FALSE(c.Lookup(1, "192.0.2.66").has_value());

  c.StopAgent(0, SIGTERM);
  s = AppendJournalEntries(file, {Login("192.0.2.11")});
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(c.StartAgent(0)) << c.Logs();
  EXPECT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.11"); }, kPropagation))
      << c.Logs();
  EXPECT_THAT(c.Logs(), HasSubstr("watching journal:" + journal));
}

TEST(JournalTest, TheAgentRefusesJournalFlagsItCannotUse) {
  ScratchDir dir;
  const std::vector<std::string> base = {RELAYSYNC_AGENT_BIN,
                                         "--coordinator=127.0.0.1:1",
                                         "--insecure",
                                         "--host-id=h",
                                         "--db=" + dir.File("db"),
                                         "--spool-dir=" + dir.File("spool")};
  auto run = [&](std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, out);
  };
  std::string out;
  EXPECT_EQ(run({"--journal-unit=dovecot.service"}, &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("need --watch-journal"));
  // qpopper runs from inetd: no unit of its own to trust.
  EXPECT_EQ(run({"--watch-journal", "--log-format=qpopper",
                 "--journal-directory=" + dir.path()},
                &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("give --journal-exe"));
  EXPECT_EQ(run({"--watch-journal", "--journal-unit=SYSLOG_IDENTIFIER=dovecot",
                 "--journal-directory=" + dir.path()},
                &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("is not a systemd unit name"));
}

}  // namespace
}  // namespace relaysync
