// Tests for coordinator/sync_input.h: the checks of hello and login batches.
#include "coordinator/sync_input.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

v1::LoginEvent* AddEvent(v1::LoginBatch* batch, const std::string& id,
                         const std::string& address, int64_t time) {
  v1::LoginEvent* e = batch->add_events();
  e->set_event_id(id);
  e->set_address(address);
  e->set_login_time(time);
  return e;
}

TEST(SyncInputTest, HelloNeedsAHostIdOfOneTo256Bytes) {
  v1::Hello hello;
  EXPECT_EQ(CheckHello(hello).code(), absl::StatusCode::kInvalidArgument);
  hello.set_host_id("mx1");
  EXPECT_TRUE(CheckHello(hello).ok());
  hello.set_host_id(std::string(256, 'h'));
  EXPECT_TRUE(CheckHello(hello).ok());
  hello.set_host_id(std::string(257, 'h'));
  EXPECT_EQ(CheckHello(hello).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SyncInputTest, BatchOverTheLimitIsRefused) {
  v1::LoginBatch batch;
  for (size_t i = 0; i <= kMaxLoginsPerBatch; ++i) {
    AddEvent(&batch, "mx1/" + std::to_string(i), "192.0.2.1", 1);
  }
  EXPECT_EQ(CheckLoginBatch(batch).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SyncInputTest, InvalidEventsAreDroppedButAcknowledged) {
  v1::LoginBatch batch;
  AddEvent(&batch, "mx1/1", "::ffff:192.0.2.7", 100);
  AddEvent(&batch, "mx1/2", "010.0.0.1", 100);
  AddEvent(&batch, "mx1/3", "192.0.2.8", 0);
  AddEvent(&batch, std::string(257, 'i'), "192.0.2.9", 100);
  AddEvent(&batch, "mx1/5", "IPv6:2001:DB8::1", 200);
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->logins.size(), 2u);
  EXPECT_EQ(checked->logins[0].address, "192.0.2.7");
  EXPECT_EQ(checked->logins[0].login_time, 100);
  EXPECT_EQ(checked->logins[1].address, "2001:db8::1");
  EXPECT_EQ(checked->positions, (std::vector<int>{0, 4}));
  EXPECT_EQ(checked->event_ids,
            (std::vector<std::string>{"mx1/1", "mx1/2", "mx1/3",
                                      std::string(257, 'i'), "mx1/5"}));
  ASSERT_EQ(checked->dropped.size(), 3u);
  EXPECT_EQ(checked->dropped[0].event_id, "mx1/2");
  EXPECT_NE(checked->dropped[0].line.find("mx1/2"), std::string::npos);
  EXPECT_NE(checked->dropped[0].reason.find("010.0.0.1"), std::string::npos)
      << checked->dropped[0].reason;
  EXPECT_EQ(checked->dropped[1].reason, "bad login_time");
  EXPECT_EQ(checked->dropped[2].reason, "event id longer than 256 bytes");
}

// User names and sources are bytes as logged: not valid UTF-8, too long,
// full of control characters. None of that is a reason to drop a login.
TEST(SyncInputTest, NoUserNameOrSourceMakesALoginInvalid) {
  v1::LoginBatch batch;
  AddEvent(&batch, "mx1/1", "192.0.2.1", 100)->set_user("j\xf6rg");
  AddEvent(&batch, "mx1/2", "192.0.2.2", 100)->set_user(std::string(5000, 'u'));
  AddEvent(&batch, "mx1/3", "192.0.2.3", 100)->set_user("a\nb\x1b[2J");
  AddEvent(&batch, "mx1/4", "192.0.2.4", 100)
      ->set_source(std::string(5000, '\xff'));
  // And they survive the wire: `bytes`, not `string`, in the proto.
  v1::LoginBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(batch.SerializeAsString()));
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(parsed);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->logins.size(), 4u);
  EXPECT_TRUE(checked->dropped.empty());
}

TEST(SyncInputTest, DropMessagesStayShortWhateverTheEventHolds) {
  v1::LoginBatch batch;
  AddEvent(&batch, std::string(1 << 20, 'i'), std::string(1 << 20, '1'), 1);
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  ASSERT_TRUE(checked.ok());
  ASSERT_EQ(checked->dropped.size(), 1u);
  EXPECT_LT(checked->dropped[0].line.size(), 1000u);
  EXPECT_LT(checked->dropped[0].reason.size(), 1000u);
}

}  // namespace
}  // namespace relaysync
