#include "agent/notify_message.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/agent/notify_test_util.h"

namespace relaysync {
namespace {

using ::relaysync::testing::Login;

TEST(NotifyMessageTest, FormatRefusesOnlyABadAddress) {
  EXPECT_FALSE(FormatNotifyMessage(Login("not-an-ip", "a")).ok());
  // Separators in a name are escaped, so they cannot split the fields.
  EXPECT_EQ(*FormatNotifyMessage(Login("192.0.2.1", "a\tb\nc")),
            "v1\t192.0.2.1\ta\\x09b\\x0ac\timap\tscript-login\n");
  EXPECT_EQ(*FormatNotifyMessage(Login("::ffff:192.0.2.1", "a")),
            "v1\t192.0.2.1\ta\timap\tscript-login\n");
}

TEST(NotifyMessageTest, ParseAcceptsAMissingTrailingNewline) {
  absl::StatusOr<LocalLogin> login =
      ParseNotifyMessage("v1\t192.0.2.1\talice\tpop3\tdovecot", 42);
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->login_time, 42);
  EXPECT_EQ(login->source, "notify:dovecot");
}

TEST(NotifyMessageTest, TheUserIsOptional) {
  LocalLogin login;
  login.address = "192.0.2.1";
  absl::StatusOr<std::string> text = FormatNotifyMessage(login);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<LocalLogin> parsed = ParseNotifyMessage(*text, 42);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->address, "192.0.2.1");
  EXPECT_EQ(parsed->user, "");
}

}  // namespace
}  // namespace relaysync
