#include "agent/local_recorder.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/materializer.h"
#include "agent/spool.h"
#include "agent/sync_signal.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"
#include "tests/agent/fake_map.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;
using Map = std::map<std::string, std::string>;

LocalLogin Login(const std::string& address, int64_t login_time) {
  LocalLogin login;
  login.address = address;
  login.login_time = login_time;
  login.user = "user";
  login.source = "log:/var/log/dovecot.log";
  return login;
}

std::vector<std::string> Ids(const std::vector<SpooledLogin>& spooled) {
  std::vector<std::string> ids;
  for (const SpooledLogin& s : spooled) ids.push_back(s.event_id);
  return ids;
}

class LocalRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Spool>> spool =
        Spool::Open(dir_.File("spool"), "mx1");
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);
    recorder_ =
        std::make_unique<LocalRecorder>(spool_.get(), &materializer_, &signal_);
  }

  // What the coordinator's ack of every pending login does in a session.
  void AcknowledgeAll() {
    absl::StatusOr<std::vector<SpooledLogin>> retired =
        spool_->Ack(Ids(spool_->Pending()));
    ASSERT_TRUE(retired.ok()) << retired.status();
    std::vector<std::pair<std::string, int64_t>> logins;
    for (const SpooledLogin& p : *retired) {
      logins.emplace_back(p.login.address, p.login.login_time);
    }
    ASSERT_TRUE(materializer_.Acknowledged(logins).ok());
  }

  ScratchDir dir_;
  FakeMap map_;
  FakeClock clock_{absl::FromUnixSeconds(2'000'000'000)};
  Materializer materializer_{&map_, KeyStyle::kSendmail, &clock_};
  SyncSignal signal_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<LocalRecorder> recorder_;
};

TEST_F(LocalRecorderTest, ALoginIsSpooledMappedAndSent) {
  ASSERT_TRUE(recorder_->Record({Login("10.0.0.1", 100)}).ok());
  ASSERT_EQ(spool_->pending_count(), 1u);
  EXPECT_EQ(spool_->Pending()[0].login, Login("10.0.0.1", 100));
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "100"}}));
  EXPECT_TRUE(signal_.WaitForWake(absl::ZeroDuration()));
}

TEST_F(LocalRecorderTest, ALoginStaysInTheMapUntilAcknowledged) {
  ASSERT_TRUE(recorder_->Record({Login("10.0.0.1", 100)}).ok());
  // A snapshot without it (sent, not merged yet) keeps it.
  ASSERT_TRUE(materializer_.ApplySnapshot({}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "100"}}));
  AcknowledgeAll();
  EXPECT_TRUE(map_.entries.empty());  // the cluster alone decides now
  EXPECT_EQ(spool_->pending_count(), 0u);
}

TEST_F(LocalRecorderTest, AMapFailureIsNotTheSourcesConcern) {
  map_.fail = true;
  EXPECT_TRUE(recorder_->Record({Login("10.0.0.1", 100)}).ok());
  EXPECT_EQ(spool_->pending_count(), 1u);
  map_.fail = false;
  ASSERT_TRUE(materializer_.Repair().ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "100"}}));
}

TEST_F(LocalRecorderTest, ResendSpoolsWhatTheMapHoldsAndKeepsItPending) {
  ASSERT_TRUE(materializer_.ApplySnapshot({{"10.0.0.1", 50}}).ok());
  ASSERT_TRUE(recorder_->Resend(materializer_.Held()).ok());
  ASSERT_EQ(spool_->pending_count(), 1u);
  const SpooledLogin resent = spool_->Pending()[0];
  EXPECT_EQ(resent.login.address, "10.0.0.1");
  EXPECT_EQ(resent.login.login_time, 50);
  EXPECT_EQ(resent.login.source, "resync");
  // The store lost it: the snapshot that follows does not remove it.
  ASSERT_TRUE(materializer_.ApplySnapshot({}).ok());
  EXPECT_EQ(map_.entries, (Map{{"10.0.0.1", "50"}}));
  AcknowledgeAll();
  EXPECT_TRUE(map_.entries.empty());
}

}  // namespace
}  // namespace relaysync
