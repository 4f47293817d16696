// Poison messages between real processes: no user name, however odd, and no
// login the coordinator refuses for good may hold up the logins behind it.
// Before user names were `bytes` on the wire, one Latin-1 name made the
// coordinator's parser refuse the whole batch, and the agent re-sent it for
// ever: nothing after it ever reached the cluster.
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/notify_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);

LocalLogin Login(const std::string& address, const std::string& user) {
  LocalLogin login;
  login.address = address;
  login.login_time = absl::ToUnixSeconds(absl::Now());
  login.user = user;
  login.protocol = LocalLogin::Protocol::kImap;
  return login;
}

TEST(PoisonTest, OddUserNamesThroughTheNotifySocketHoldNothingUp) {
  Cluster c(2);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // Latin-1, over-long, control characters and an escape sequence; the
  // first through the agent's own notify command, the rest as datagrams.
  ASSERT_EQ(c.Notify(0, "192.0.2.11", "j\xf6rg"), 0);
  ASSERT_TRUE(SendNotify(c.Socket(0),
                         Login("192.0.2.12", std::string(5000, 'u')),
                         absl::Seconds(5))
                  .ok());
  ASSERT_TRUE(SendNotify(c.Socket(0), Login("192.0.2.13", "a\tb\nc\x1b[2J\x7f"),
                         absl::Seconds(5))
                  .ok());
  ASSERT_TRUE(SendNotify(c.Socket(0), Login("192.0.2.14", "\xff\xfe\xc3"),
                         absl::Seconds(5))
                  .ok());
  ASSERT_EQ(c.Notify(0, "192.0.2.15", "after"), 0);
  for (const char* ip :
       {"192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14", "192.0.2.15"}) {
    EXPECT_TRUE(WaitForCondition([&] { return c.Lookup(1, ip).has_value(); },
                                 kPropagation))
        << ip << "\n"
        << c.Logs();
  }
  // And later logins still go through at once.
  ASSERT_EQ(c.Notify(0, "192.0.2.16", "later"), 0);
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "192.0.2.16").has_value(); }, kPropagation));
  EXPECT_THAT(c.Logs(), ::testing::Not(HasSubstr("stream ended")));
}

TEST(PoisonTest, OddUserNamesThroughTheLogTailerHoldNothingUp) {
  Cluster c(2);
  const std::string log = c.dir() + "/dovecot.log";
  { std::ofstream create(log); }
  c.AddAgentFlags(0, {"--watch-log=" + log});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  // Stamped now (local time, as Dovecot writes it): older logins could be
  // past the coordinator's expiry.
  auto line = [](const std::string& user, const std::string& ip) {
    return absl::StrCat(
        absl::FormatTime("%b %d %H:%M:%S", absl::Now(), absl::LocalTimeZone()),
        " imap-login: Info: Login: user=<", user, ">, method=PLAIN, rip=", ip,
        ", lip=192.0.2.1, mpid=1, TLS, session=<abc>\n");
  };
  // A first start tails from the end of the file: make sure the tailer is
  // reading before the lines that matter go in.
  ASSERT_TRUE(WaitForCondition(
      [&] {
        std::ofstream(log, std::ios::app) << line("probe", "192.0.2.20");
        return WaitForCondition(
            [&] { return c.Lookup(1, "192.0.2.20").has_value(); },
            absl::Seconds(2));
      },
      kPropagation))
      << c.Logs();
  {
    std::ofstream out(log, std::ios::app);
    out << line("j\xf6rg", "192.0.2.21")              // Latin-1
        << line(std::string(250, 'u'), "192.0.2.22")  // long (Dovecot: 80)
        << line("a?b?c", "192.0.2.23")  // Dovecot writes controls as '?'
        // A raw control character: not written by Dovecot, so forged and
        // refused (docs/security.md), but it must not hold anything up.
        << line("a\x1b[2Jb", "192.0.2.24") << line("\xff\xfe", "192.0.2.25")
        << line("after", "192.0.2.26");
  }
  for (const char* ip :
       {"192.0.2.21", "192.0.2.22", "192.0.2.23", "192.0.2.25", "192.0.2.26"}) {
    EXPECT_TRUE(WaitForCondition([&] { return c.Lookup(1, ip).has_value(); },
                                 kPropagation))
        << ip << "\n"
        << c.Logs();
  }
  EXPECT_FALSE(c.Lookup(1, "192.0.2.24").has_value());
  EXPECT_FALSE(c.Lookup(0, "192.0.2.24").has_value());
  {
    std::ofstream out(log, std::ios::app);
    out << line("later", "192.0.2.27");
  }
  EXPECT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "192.0.2.27").has_value(); }, kPropagation));
}

// A login the coordinator refuses for good (here: a range it never relays,
// which the agent does not know about) is acknowledged with why: the agent
// logs it, counts it, drops it from its spool and its own map, and goes on.
TEST(PoisonTest, ALoginRefusedForGoodIsDroppedWithItsReasonAndCounted) {
  Cluster c(2, {"--never-relay=198.51.100.0/24"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "198.51.100.7", "mallory"), 0);
  ASSERT_EQ(c.Notify(0, "192.0.2.31", "after"), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "192.0.2.31").has_value(); }, kPropagation))
      << c.Logs();
  EXPECT_TRUE(WaitForCondition(
      [&] {
        return c.Logs().find("for good") != std::string::npos &&
               !c.Lookup(0, "198.51.100.7").has_value();
      },
      kPropagation))
      << c.Logs();
  EXPECT_FALSE(c.Lookup(1, "198.51.100.7").has_value());
  EXPECT_THAT(c.Logs(), HasSubstr("198.51.100.7"));
  std::string status;
  ASSERT_EQ(c.Vsmtprelay({"status"}, &status), 0) << status;
  EXPECT_THAT(status, HasSubstr("logins refused for good (never merged): 1\n"));
  // Not re-sent after a restart: the spool let it go.
  c.StopAgent(0, SIGTERM);
  ASSERT_TRUE(c.StartAgent(0)) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.32", "later"), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] { return c.Lookup(1, "192.0.2.32").has_value(); }, kPropagation));
  ASSERT_EQ(c.Vsmtprelay({"status"}, &status), 0) << status;
  EXPECT_THAT(status, HasSubstr("logins refused for good (never merged): 1\n"));
}

}  // namespace
}  // namespace relaysync
