#include "agent/dovecot_log_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::AppendToFile;
using ::relaysync::testing::ScratchDir;

TEST(DovecotLogSourceTest, ReportsOnlySuccessfulLoginsWithTheLogAsSource) {
  ScratchDir dir;
  const std::string log = dir.File("dovecot.log");
  EXPECT_TRUE(
      AppendToFile(log,
                   "Nov 25 04:00:00 imap-login: Info: Login: user=<before>, "
                   "method=PLAIN, rip=192.0.2.200, lip=192.0.2.1\n"));
  FakeClock clock(absl::FromCivil(absl::CivilSecond(2026, 11, 25, 12, 0, 0),
                                  absl::UTCTimeZone()));
  DovecotLogSource::Options options;
  options.log_path = log;
  options.state_path = dir.File("dovecot.tail");
  options.time_zone = absl::UTCTimeZone();
  options.clock = &clock;
  DovecotLogSource source(options);
  EXPECT_EQ(source.Name(), "log:" + log);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<LocalLogin> logins;
  ASSERT_TRUE(source
                  .Start([&](const std::vector<LocalLogin>& batch) {
                    std::lock_guard<std::mutex> lock(mu);
                    logins.insert(logins.end(), batch.begin(), batch.end());
                    cv.notify_all();
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(AppendToFile(
      log,
      "Nov 25 04:25:38 imap-login: Info: Disconnected (auth failed, 1 "
      "attempts in 2 secs): user=<alice>, method=PLAIN, rip=192.0.2.9, "
      "lip=192.0.2.1\n"
      "Nov 25 04:25:39 imap-login: Info: Login: user=<alice>, "
      "method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=1, session=<a>\n"
      "Nov 25 04:25:40 pop3-login: Info: Login: user=<bob>, method=PLAIN, "
      "rip=2001:db8::7, lip=2001:db8::1, mpid=2, session=<b>\n"));
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, std::chrono::seconds(5),
              [&] { return logins.size() >= 2; });
  ASSERT_EQ(logins.size(), 2u);
  EXPECT_EQ(logins[0].address, "192.0.2.10");
  EXPECT_EQ(logins[0].user, "alice");
  EXPECT_EQ(logins[0].source, "log:" + log);
  EXPECT_EQ(logins[1].address, "2001:db8::7");
  EXPECT_EQ(logins[1].protocol, LocalLogin::Protocol::kPop3);
}

// Collects the logins a source reports.
class Collector {
 public:
  EventSource::Sink Sink() {
    return [this](const std::vector<LocalLogin>& batch) {
      std::lock_guard<std::mutex> lock(mu_);
      logins_.insert(logins_.end(), batch.begin(), batch.end());
      cv_.notify_all();
      return absl::OkStatus();
    };
  }
  // The addresses once there are at least `n` (or what arrived in 5 s).
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5),
                 [&] { return logins_.size() >= n; });
    std::vector<std::string> addresses;
    for (const LocalLogin& login : logins_) addresses.push_back(login.address);
    return addresses;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LocalLogin> logins_;
};

// What `logger -t dovecot` run by any local user puts into a syslog file,
// then a line in the form of Dovecot's own log_path.
constexpr char kForgedThenOwnLog[] =
    "Nov 25 04:28:35 mx dovecot: imap-login: Login: user=<x>, method=PLAIN, "
    "rip=192.0.2.66, lip=192.0.2.1\n"
    "2026-11-25T04:28:36.000001+00:00 mx dovecot[7]: imap-login: Info: "
    "Login: user=<x>, method=PLAIN, rip=192.0.2.67, lip=192.0.2.1\n"
    "Nov 25 04:28:37 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=192.0.2.10, lip=192.0.2.1, mpid=1, session=<a>\n";

DovecotLogSource::Options SourceOptions(const ScratchDir& dir,
                                        const FakeClock* clock) {
  DovecotLogSource::Options options;
  options.log_path = dir.File("mail.log");
  options.time_zone = absl::UTCTimeZone();
  options.clock = clock;
  return options;
}

const absl::Time kNoon = absl::FromCivil(
    absl::CivilSecond(2026, 11, 25, 12, 0, 0), absl::UTCTimeZone());

TEST(DovecotLogSourceTest, SyslogFormLoginsGrantNothingByDefault) {
  ScratchDir dir;
  FakeClock clock(kNoon);
  EXPECT_TRUE(AppendToFile(dir.File("mail.log"), ""));
  DovecotLogSource source(SourceOptions(dir, &clock));
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  EXPECT_TRUE(AppendToFile(dir.File("mail.log"), kForgedThenOwnLog));
  EXPECT_EQ(collector.WaitFor(1), std::vector<std::string>{"192.0.2.10"});
  EXPECT_EQ(source.untrusted_logins(), 2u);
}

TEST(DovecotLogSourceTest, SyslogFormLoginsAreReportedWhenTrusted) {
  ScratchDir dir;
  FakeClock clock(kNoon);
  EXPECT_TRUE(AppendToFile(dir.File("mail.log"), ""));
  DovecotLogSource::Options options = SourceOptions(dir, &clock);
  options.trust_syslog = true;
  DovecotLogSource source(options);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  EXPECT_TRUE(AppendToFile(dir.File("mail.log"), kForgedThenOwnLog));
  EXPECT_EQ(
      collector.WaitFor(3),
      (std::vector<std::string>{"192.0.2.66", "192.0.2.67", "192.0.2.10"}));
  EXPECT_EQ(source.untrusted_logins(), 0u);
}

// Courier logs only through syslog: with every format, its lines count
// only where syslog is trusted, as Dovecot's syslog lines do.
constexpr char kCourierThenOwnLog[] =
    "Nov 25 04:28:35 mx imapd: LOGIN, user=x, ip=[::ffff:192.0.2.66], "
    "port=[1], protocol=IMAP\n"
    "Nov 25 04:28:37 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=192.0.2.10, lip=192.0.2.1, mpid=1, session=<a>\n";

TEST(DovecotLogSourceTest, OtherDaemonsLinesCountOnlyWhenSyslogIsTrusted) {
  for (bool trusted : {false, true}) {
    ScratchDir dir;
    FakeClock clock(kNoon);
    EXPECT_TRUE(AppendToFile(dir.File("mail.log"), ""));
    DovecotLogSource::Options options = SourceOptions(dir, &clock);
    options.formats = *LogFormatsFromFlag("auto");
    options.trust_syslog = trusted;
    DovecotLogSource source(options);
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    EXPECT_TRUE(AppendToFile(dir.File("mail.log"), kCourierThenOwnLog));
    if (trusted) {
      EXPECT_EQ(collector.WaitFor(2),
                (std::vector<std::string>{"192.0.2.66", "192.0.2.10"}));
      EXPECT_EQ(source.untrusted_logins(), 0u);
    } else {
      EXPECT_EQ(collector.WaitFor(1), std::vector<std::string>{"192.0.2.10"});
      EXPECT_EQ(source.untrusted_logins(), 1u);
    }
  }
}

TEST(DovecotLogSourceTest, ALogWritableByOthersIsRefused) {
  ScratchDir dir;
  FakeClock clock(kNoon);
  EXPECT_TRUE(AppendToFile(dir.File("mail.log"), ""));
  ASSERT_EQ(chmod(dir.File("mail.log").c_str(), 0666), 0);
  DovecotLogSource source(SourceOptions(dir, &clock));
  Collector collector;
  absl::Status status = source.Start(collector.Sink());
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find(dir.File("mail.log")), std::string::npos);
}

// Logins that name a session open it in the tracker; an end line ends it
// only in a form the source believes (a syslog-form line in Dovecot's own
// log could be anyone's). Each step is followed by a login, so that
// its arrival says the lines before it were read.
TEST(DovecotLogSourceTest, TellsTheTrackerOfSessionsAndOfBelievedEndsOnly) {
  ScratchDir dir;
  FakeClock clock(kNoon);
  SessionTracker::Options tracking;
  tracking.clock = &clock;
  SessionTracker tracker(tracking);
  DovecotLogSource::Options options = SourceOptions(dir, &clock);
  options.sessions = &tracker;
  ASSERT_TRUE(AppendToFile(options.log_path, ""));
  DovecotLogSource source(options);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  auto login = [](const std::string& user, const std::string& ip,
                  const std::string& session) {
    return "Nov 25 04:28:37 imap-login: Info: Login: user=<" + user +
           ">, method=PLAIN, rip=" + ip + ", lip=192.0.2.1, mpid=1" +
           (session.empty() ? "" : ", session=<" + session + ">") + "\n";
  };
  ASSERT_TRUE(AppendToFile(
      options.log_path,
      login("alice", "192.0.2.10", "s1") + login("bob", "2001:db8::2", "s2")));
  ASSERT_EQ(collector.WaitFor(2).size(), 2u);
  EXPECT_EQ(tracker.open_sessions(), 2u);
  ASSERT_TRUE(AppendToFile(
      options.log_path,
      "Nov 25 04:28:38 mx dovecot[7]: imap(alice)<1><s1>: Logged out in=1\n" +
          login("carol", "192.0.2.12", "")));
  ASSERT_EQ(collector.WaitFor(3).size(), 3u);
  EXPECT_EQ(tracker.open_sessions(), 2u);
  ASSERT_TRUE(AppendToFile(options.log_path,
                           "Nov 25 04:28:39 imap(alice)<1><s1>: Info: "
                           "Disconnected: Logged out in=1 out=2\n" +
                               login("dave", "192.0.2.13", "")));
  ASSERT_EQ(collector.WaitFor(4).size(), 4u);
  EXPECT_EQ(tracker.open_sessions(), 1u);
  EXPECT_FALSE(tracker.End(source.Name(), "dovecot session=<s1>", "alice"));
  EXPECT_TRUE(tracker.End(source.Name(), "dovecot session=<s2>", "bob"));
}

}  // namespace
}  // namespace relaysync
