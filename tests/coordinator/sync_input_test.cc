// Tests for coordinator/sync_input.h: the checks of hello and login batches.
#include "coordinator/sync_input.h"

#include <string>

#include "coordinator/limits.h"
#include "gtest/gtest.h"

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
  AddEvent(&batch, "mx1/4", "192.0.2.9", 100)->set_user(std::string(257, 'u'));
  AddEvent(&batch, "mx1/5", "192.0.2.9", 100)
      ->set_source(std::string(257, 's'));
  AddEvent(&batch, "mx1/6", "IPv6:2001:DB8::1", 200);
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->logins.size(), 2u);
  EXPECT_EQ(checked->logins[0].address, "192.0.2.7");
  EXPECT_EQ(checked->logins[0].login_time, 100);
  EXPECT_EQ(checked->logins[1].address, "2001:db8::1");
  EXPECT_EQ(checked->event_ids,
            (std::vector<std::string>{"mx1/1", "mx1/2", "mx1/3", "mx1/4",
                                      "mx1/5", "mx1/6"}));
  ASSERT_EQ(checked->dropped.size(), 4u);
  EXPECT_NE(checked->dropped[0].find("mx1/2"), std::string::npos);
}

TEST(SyncInputTest, DropMessagesStayShortWhateverTheEventHolds) {
  v1::LoginBatch batch;
  AddEvent(&batch, std::string(1 << 20, 'i'), std::string(1 << 20, '1'), 1);
  absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
  ASSERT_TRUE(checked.ok());
  ASSERT_EQ(checked->dropped.size(), 1u);
  EXPECT_LT(checked->dropped[0].size(), 1000u);
}

}  // namespace
}  // namespace relaysync
