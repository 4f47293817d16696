#include "agent/dovecot_log_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;

void Append(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  close(fd);
}

TEST(DovecotLogSourceTest, ReportsOnlySuccessfulLoginsWithTheLogAsSource) {
  ScratchDir dir;
  const std::string log = dir.File("dovecot.log");
  Append(log,
         "Nov 25 04:00:00 imap-login: Info: Login: user=<before>, "
         "method=PLAIN, rip=192.0.2.200, lip=192.0.2.1\n");
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
                  })
                  .ok());
  Append(log,
         "Nov 25 04:25:38 imap-login: Info: Disconnected (auth failed, 1 "
         "attempts in 2 secs): user=<alice>, method=PLAIN, rip=192.0.2.9, "
         "lip=192.0.2.1\n"
         "Nov 25 04:25:39 imap-login: Info: Login: user=<alice>, "
         "method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=1, session=<a>\n"
         "Nov 25 04:25:40 pop3-login: Info: Login: user=<bob>, method=PLAIN, "
         "rip=2001:db8::7, lip=2001:db8::1, mpid=2, session=<b>\n");
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

}  // namespace
}  // namespace relaysync
