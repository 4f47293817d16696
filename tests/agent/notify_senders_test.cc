#include "agent/notify_senders.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

TEST(NotifySendersTest, UsersAndGroupsAreTakenByNameOrNumber) {
  EXPECT_EQ(LookUpUser("root").value(), 0u);
  EXPECT_EQ(LookUpUser("0").value(), 0u);
  EXPECT_EQ(LookUpUser("4321").value(), 4321u);
  EXPECT_EQ(LookUpGroup("root").value(), 0u);
  EXPECT_EQ(LookUpGroup("4321").value(), 4321u);
}

TEST(NotifySendersTest, UnknownNamesAreErrorsNamingThem) {
  absl::StatusOr<uid_t> user = LookUpUser("no-such-relaysync-user");
  EXPECT_TRUE(absl::IsNotFound(user.status())) << user.status();
  EXPECT_NE(user.status().message().find("no-such-relaysync-user"),
            std::string::npos);
  absl::StatusOr<gid_t> group = LookUpGroup("no-such-relaysync-group");
  EXPECT_TRUE(absl::IsNotFound(group.status())) << group.status();
  EXPECT_FALSE(NotifySenders::Make({}, {"no-such-relaysync-group"}, "").ok());
  EXPECT_FALSE(NotifySenders::Make({}, {}, "no-such-relaysync-group").ok());
}

TEST(NotifySendersTest, RootAndTheAgentItselfAreAlwaysAllowed) {
  NotifySenders senders = NotifySenders::RootAndSelf();
  EXPECT_TRUE(senders.Allows(0, 4321));
  EXPECT_TRUE(senders.Allows(geteuid(), 4321));
  EXPECT_FALSE(senders.Allows(4321, 4321));
}

TEST(NotifySendersTest, ListedUsersGroupsAndTheSocketGroupAreAllowed) {
  absl::StatusOr<NotifySenders> senders =
      NotifySenders::Make({"4001"}, {"4002"}, "4003");
  ASSERT_TRUE(senders.ok()) << senders.status();
  EXPECT_TRUE(senders->Allows(0, 9999));
  EXPECT_TRUE(senders->Allows(4001, 9999));
  EXPECT_TRUE(senders->Allows(9999, 4002));
  EXPECT_TRUE(senders->Allows(9999, 4003));
  EXPECT_FALSE(senders->Allows(9999, 9999));
  EXPECT_NE(senders->ToString().find("4001"), std::string::npos);
  EXPECT_NE(senders->ToString().find("gids 4002,4003"), std::string::npos);
}

TEST(NotifySendersTest, NobodyIsAllowedByAnEmptyPolicy) {
  EXPECT_FALSE(NotifySenders().Allows(0, 0));
}

}  // namespace
}  // namespace relaysync
