// The per-user limit on distinct addresses in a window.
#include "coordinator/user_address_limit.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

constexpr int64_t kT0 = 2000000000;

TEST(UserAddressLimitTest, AUserGetsAtMostTheLimitOfAddressesPerWindow) {
  UserAddressLimit limit({/*max_addresses=*/3, absl::Minutes(10)});
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(limit.Admit("alice", absl::StrCat("192.0.2.", i), kT0));
  }
  EXPECT_FALSE(limit.Admit("alice", "192.0.2.4", kT0 + 1));
  // Her known addresses keep working, and other users are not affected.
  EXPECT_TRUE(limit.Admit("alice", "192.0.2.2", kT0 + 2));
  EXPECT_TRUE(limit.Admit("bob", "192.0.2.4", kT0 + 2));
}

TEST(UserAddressLimitTest, AddressesLeaveTheWindow) {
  UserAddressLimit limit({2, absl::Minutes(10)});
  EXPECT_TRUE(limit.Admit("alice", "192.0.2.1", kT0));
  EXPECT_TRUE(limit.Admit("alice", "192.0.2.2", kT0 + 300));
  EXPECT_FALSE(limit.Admit("alice", "192.0.2.3", kT0 + 599));
  // The first one is 10 minutes old: its slot is free again.
  EXPECT_TRUE(limit.Admit("alice", "192.0.2.3", kT0 + 600));
  EXPECT_FALSE(limit.Admit("alice", "192.0.2.1", kT0 + 601));
}

TEST(UserAddressLimitTest, ALoginWithoutUserOrWithTheLimitOffIsNotCounted) {
  UserAddressLimit limit({1, absl::Minutes(10)});
  EXPECT_TRUE(limit.Admit("", "192.0.2.1", kT0));
  EXPECT_TRUE(limit.Admit("", "192.0.2.2", kT0));
  UserAddressLimit off({0, absl::Minutes(10)});
  for (int i = 1; i <= 100; ++i) {
    EXPECT_TRUE(off.Admit("alice", absl::StrCat("10.0.0.", i), kT0));
  }
}

TEST(UserAddressLimitTest, ManyUsersAreForgottenOnceIdle) {
  UserAddressLimit limit({1, absl::Minutes(1)});
  for (int i = 0; i < 10000; ++i) {
    EXPECT_TRUE(limit.Admit(absl::StrCat("user", i), "192.0.2.1", kT0));
  }
  // Long after, every user starts again from nothing.
  EXPECT_TRUE(limit.Admit("user1", "192.0.2.9", kT0 + 3600));
}

}  // namespace
}  // namespace relaysync
