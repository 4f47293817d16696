// Long IMAP sessions between real processes: an agent tails Dovecot's log,
// sees a login that opens a session, and keeps its address relaying on
// every agent for longer than the coordinator's --expire-after while the
// session is open; once the session's end line is in the log, the address
// expires as any other. A forged end (another user) ends nothing.
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);
constexpr absl::Duration kExpireAfter = absl::Seconds(3);

// Stamped now, in local time, as Dovecot writes its log_path.
std::string Stamp() {
  return absl::FormatTime("%b %d %H:%M:%S ", absl::Now(),
                          absl::LocalTimeZone());
}

std::string LoginLine(const std::string& user, const std::string& ip,
                      const std::string& session) {
  return absl::StrCat(Stamp(), "imap-login: Info: Login: user=<", user,
                      ">, method=PLAIN, rip=", ip,
                      ", lip=192.0.2.1, mpid=4242, secured, session=<", session,
                      ">\n");
}

std::string EndLine(const std::string& user, const std::string& session) {
  return absl::StrCat(Stamp(), "imap(", user, ")<4242><", session,
                      ">: Info: Disconnected: Logged out in=8 out=468\n");
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

// True if every agent's map has `ip` at every look for `how_long`.
bool StaysEverywhere(const Cluster& c, const std::string& ip,
                     absl::Duration how_long) {
  const absl::Time until = absl::Now() + how_long;
  while (absl::Now() < until) {
    if (!c.AllHave(ip)) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

TEST(LongSessionTest, AnOpenSessionOutlivesExpireAfterAndEndsWithItsLogout) {
  Cluster c(2, {absl::StrCat("--expire-after=",
                             absl::ToInt64Seconds(kExpireAfter), "s")});
  const std::string log = c.dir() + "/dovecot.log";
  { std::ofstream create(log); }
  c.AddAgentFlags(0, {"--watch-log=" + log, "--session-refresh=1s"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // A first start tails from the end of the file: make sure the tailer is
  // reading before the lines that matter go in. The probe's login names no
  // session: it expires as always.
  ASSERT_TRUE(WaitForCondition(
      [&] {
        Append(log, absl::StrCat(Stamp(),
                                 "imap-login: Info: Login: user=<probe>, "
                                 "method=PLAIN, rip=192.0.2.40, "
                                 "lip=192.0.2.1, mpid=1\n"));
        return WaitForCondition([&] { return c.AllHave("192.0.2.40"); },
                                absl::Seconds(2));
      },
      kPropagation))
      << c.Logs();

  Append(log, LoginLine("alice", "192.0.2.30", "Oxv8BqVhfuZ/AAAB"));
  ASSERT_TRUE(
      WaitForCondition([&] { return c.AllHave("192.0.2.30"); }, kPropagation))
      << c.Logs();
  // Well past --expire-after, on both agents, without a new login line.
  EXPECT_TRUE(StaysEverywhere(c, "192.0.2.30", 3 * kExpireAfter)) << c.Logs();
  // The probe, without a session, expired meanwhile.
  EXPECT_TRUE(c.AllHave("192.0.2.40", false)) << c.Logs();

  // An end line of another user names the session but ends nothing.
  Append(log, EndLine("mallory", "Oxv8BqVhfuZ/AAAB"));
  EXPECT_TRUE(StaysEverywhere(c, "192.0.2.30", 2 * kExpireAfter)) << c.Logs();

  // The real logout: no more refreshes, and the address expires.
  Append(log, EndLine("alice", "Oxv8BqVhfuZ/AAAB"));
  EXPECT_TRUE(WaitForCondition([&] { return c.AllHave("192.0.2.30", false); },
                               3 * kExpireAfter))
      << c.Logs();
}

}  // namespace
}  // namespace relaysync
