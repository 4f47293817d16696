#include "agent/session_tracker.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

LocalLogin Login(const std::string& address, const std::string& user,
                 absl::Time at = kStart) {
  LocalLogin login;
  login.address = address;
  login.user = user;
  login.protocol = LocalLogin::Protocol::kImap;
  login.login_time = absl::ToUnixSeconds(at);
  login.source = "log:/var/log/dovecot.log";
  return login;
}

class SessionTrackerTest : public ::testing::Test {
 protected:
  SessionTracker::Options Defaults() {
    SessionTracker::Options o;
    o.refresh = absl::Minutes(10);
    o.max_age = absl::Hours(12);
    o.max_sessions = 100;
    o.clock = &clock_;
    return o;
  }

  FakeClock clock_{kStart};
};

TEST_F(SessionTrackerTest, RefreshesAnOpenSessionEveryInterval) {
  SessionTracker tracker(Defaults());
  ASSERT_TRUE(
      tracker.Begin("log", "dovecot session=<A>", Login("192.0.2.1", "alice")));
  EXPECT_TRUE(tracker.TakeDue().empty());  // the login itself just counted
  clock_.Advance(absl::Minutes(9));
  EXPECT_TRUE(tracker.TakeDue().empty());
  clock_.Advance(absl::Minutes(1));
  std::vector<LocalLogin> due = tracker.TakeDue();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].address, "192.0.2.1");
  EXPECT_EQ(due[0].user, "alice");
  EXPECT_EQ(due[0].protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(due[0].login_time, clock_.NowSeconds());
  EXPECT_EQ(due[0].source, "session:log:/var/log/dovecot.log");
  EXPECT_TRUE(tracker.TakeDue().empty());  // once per interval
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(tracker.TakeDue().size(), 1u);
}

TEST_F(SessionTrackerTest, TheEndLineStopsTheRefreshes) {
  SessionTracker tracker(Defaults());
  tracker.Begin("log", "dovecot session=<A>", Login("192.0.2.1", "alice"));
  EXPECT_TRUE(tracker.End("log", "dovecot session=<A>", "alice"));
  EXPECT_EQ(tracker.open_sessions(), 0u);
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(tracker.TakeDue().empty());
  EXPECT_FALSE(tracker.End("log", "dovecot session=<A>", "alice"));
}

// An end line may be forged or ambiguous: it ends a session only if it
// names the same log, key and user as the login.
TEST_F(SessionTrackerTest, AnEndOfAnotherUserOrLogEndsNothing) {
  SessionTracker tracker(Defaults());
  tracker.Begin("log", "dovecot session=<A>", Login("192.0.2.1", "alice"));
  EXPECT_FALSE(tracker.End("log", "dovecot session=<A>", "mallory"));
  EXPECT_FALSE(tracker.End("other-log", "dovecot session=<A>", "alice"));
  EXPECT_FALSE(tracker.End("log", "dovecot session=<B>", "alice"));
  EXPECT_EQ(tracker.open_sessions(), 1u);
}

TEST_F(SessionTrackerTest, ALoginWithoutAKeyOpensNothing) {
  SessionTracker tracker(Defaults());
  EXPECT_FALSE(tracker.Begin("log", "", Login("192.0.2.1", "alice")));
  EXPECT_EQ(tracker.open_sessions(), 0u);
}

TEST_F(SessionTrackerTest, ASessionIsRefreshedForAtMostMaxAge) {
  SessionTracker::Options o = Defaults();
  o.max_age = absl::Minutes(35);
  SessionTracker tracker(o);
  tracker.Begin("log", "k", Login("192.0.2.1", "alice"));
  int refreshes = 0;
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Minutes(5));
    refreshes += tracker.TakeDue().size();
  }
  EXPECT_EQ(refreshes, 3);  // at 10, 20 and 30 minutes
  EXPECT_EQ(tracker.open_sessions(), 0u);
}

// A login read late (a backlog after a restart of the agent) that is
// already past max_age is not tracked.
TEST_F(SessionTrackerTest, ALoginOlderThanMaxAgeOpensNothing) {
  SessionTracker tracker(Defaults());
  EXPECT_FALSE(tracker.Begin(
      "log", "k", Login("192.0.2.1", "alice", kStart - absl::Hours(13))));
  EXPECT_TRUE(tracker.Begin(
      "log", "k", Login("192.0.2.1", "alice", kStart - absl::Hours(11))));
}

// A login read late (a backlog) is first refreshed one interval after it
// was read, so that its end line, later in the backlog, comes first.
TEST_F(SessionTrackerTest, ALateLoginIsFirstRefreshedAnIntervalAfterItIsRead) {
  SessionTracker tracker(Defaults());
  tracker.Begin("log", "k",
                Login("192.0.2.1", "alice", kStart - absl::Hours(1)));
  EXPECT_TRUE(tracker.TakeDue().empty());
  EXPECT_TRUE(tracker.End("log", "k", "alice"));
}

TEST_F(SessionTrackerTest, AtTheBoundTheOldestSessionIsDropped) {
  SessionTracker::Options o = Defaults();
  o.max_sessions = 2;
  SessionTracker tracker(o);
  tracker.Begin("log", "a", Login("192.0.2.1", "a", kStart));
  tracker.Begin("log", "b", Login("192.0.2.2", "b", kStart - absl::Seconds(5)));
  tracker.Begin("log", "c", Login("192.0.2.3", "c", kStart));
  EXPECT_EQ(tracker.open_sessions(), 2u);
  EXPECT_FALSE(tracker.End("log", "b", "b"));  // the oldest went
  EXPECT_TRUE(tracker.End("log", "a", "a"));
  EXPECT_TRUE(tracker.End("log", "c", "c"));
}

TEST_F(SessionTrackerTest, ZeroMaxSessionsTracksNothing) {
  SessionTracker::Options o = Defaults();
  o.max_sessions = 0;
  SessionTracker tracker(o);
  EXPECT_FALSE(tracker.Begin("log", "a", Login("192.0.2.1", "a")));
}

// The daemon gives a live key to one connection only: a second login with
// it means the first session ended unseen.
TEST_F(SessionTrackerTest, ALoginWithAnOpenKeyReplacesItsSession) {
  SessionTracker tracker(Defaults());
  tracker.Begin("log", "uw-imap pid=7", Login("192.0.2.1", "alice"));
  tracker.Begin("log", "uw-imap pid=7", Login("192.0.2.2", "bob"));
  EXPECT_EQ(tracker.open_sessions(), 1u);
  clock_.Advance(absl::Minutes(10));
  std::vector<LocalLogin> due = tracker.TakeDue();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].address, "192.0.2.2");
}

TEST_F(SessionTrackerTest, SessionsOfOneAddressGiveOneRefreshPerPass) {
  SessionTracker tracker(Defaults());
  tracker.Begin("log", "a", Login("2001:db8::1", "alice"));
  tracker.Begin("log", "b", Login("2001:db8::1", "alice"));
  tracker.Begin("log", "c", Login("192.0.2.3", "carol"));
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(tracker.TakeDue().size(), 2u);
}

TEST_F(SessionTrackerTest, TheDefaultIntervalIsAThirdOfThePolicy) {
  absl::Duration policy = absl::ZeroDuration();
  SessionTracker::Options o = Defaults();
  o.refresh = absl::ZeroDuration();
  o.expire_after = [&policy] { return policy; };
  SessionTracker tracker(o);
  EXPECT_EQ(tracker.RefreshInterval(), SessionTracker::kDefaultRefresh);
  policy = absl::Minutes(30);
  EXPECT_EQ(tracker.RefreshInterval(), absl::Minutes(10));
  policy = absl::Seconds(2);
  EXPECT_EQ(tracker.RefreshInterval(), absl::Seconds(1));
  o.expire_after = nullptr;
  EXPECT_EQ(SessionTracker(o).RefreshInterval(),
            SessionTracker::kDefaultRefresh);
}

TEST_F(SessionTrackerTest, TheThreadSendsRefreshesToTheSink) {
  SessionTracker::Options o = Defaults();
  o.refresh = absl::Seconds(1);
  SessionTracker tracker(o);
  absl::Mutex mu;
  std::vector<LocalLogin> got;
  ASSERT_TRUE(tracker
                  .Start([&](const std::vector<LocalLogin>& logins) {
                    absl::MutexLock lock(&mu);
                    got.insert(got.end(), logins.begin(), logins.end());
                    return absl::OkStatus();
                  })
                  .ok());
  tracker.Begin("log", "a", Login("192.0.2.1", "alice"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(testing::WaitForCondition(
      [&] {
        absl::MutexLock lock(&mu);
        return !got.empty();
      },
      absl::Seconds(10)));
  tracker.Stop();
  tracker.Stop();  // idempotent
  absl::MutexLock lock(&mu);
  EXPECT_EQ(got[0].address, "192.0.2.1");
}

}  // namespace
}  // namespace relaysync
