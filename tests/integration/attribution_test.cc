// Attribution end to end, as real processes over mutual TLS: an agent's
// login and an admin's add are listed by vsmtprelay --attribution with the
// agent's host id and user name, or the admin's certificate identity, a
// hostile user name escaped; plain dump prints exactly what it did. Once
// with each store.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/redis_server.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RedisServer;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(20);

// The output without its attribution lines.
std::string WithoutAttribution(const std::string& out) {
  std::string kept;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, "# attribution: ")) continue;
    kept.append(line.data(), line.size());
    kept.push_back('\n');
  }
  kept.pop_back();  // StrSplit's last, empty piece
  return kept;
}

void LoginsAndAddAreAttributed(Cluster& c) {
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.10", "alice"), 0);
  // What the agent lets through (no ASCII control bytes), yet built to
  // forge fields and, raw, to send an 8-bit CSI to the terminal.
  ASSERT_EQ(c.Notify(1, "192.0.2.11", "mallory user=root \\x41\xc2\x9b[2J"), 0);
  ASSERT_EQ(c.Vsmtprelay({"add", "192.0.2.12"}), 0);
  ASSERT_TRUE(WaitForCondition(
      [&] {
        return c.AllHave("192.0.2.10") && c.AllHave("192.0.2.11") &&
               c.AllHave("192.0.2.12");
      },
      kPropagation))
      << c.Logs();

  std::string plain, attributed;
  ASSERT_EQ(c.Vsmtprelay({"dump"}, &plain), 0) << plain;
  ASSERT_EQ(c.Vsmtprelay({"--attribution", "dump"}, &attributed), 0)
      << attributed;
  EXPECT_THAT(attributed, HasSubstr("# attribution: host=agent0 user=alice\n"
                                    "192.0.2.10\t"));
  EXPECT_THAT(attributed,
              HasSubstr("# attribution: host=agent1 user=mallory\\x20user=root"
                        "\\x20\\x5cx41\\xc2\\x9b[2J\n192.0.2.11\t"));
  EXPECT_THAT(attributed, HasSubstr("# attribution: host=(admin) "
                                    "user=spiffe://"));
  EXPECT_THAT(attributed, HasSubstr("/admin/test\n192.0.2.12\t"));
  // Without the option: the same entries, no attribution, nothing else.
  EXPECT_THAT(plain, Not(HasSubstr("attribution")));
  EXPECT_EQ(plain, WithoutAttribution(attributed));
  EXPECT_THAT(plain, HasSubstr("192.0.2.11\t"));
}

TEST(AttributionTest, EmbeddedStoreNamesWhoGrantedEachEntry) {
  Cluster c(2);
  LoginsAndAddAreAttributed(c);
}

TEST(AttributionTest, RedisStoreNamesWhoGrantedEachEntry) {
  RedisServer redis;
  ASSERT_EQ(redis.Start(), absl::OkStatus());
  Cluster c(
      2, {"--store=redis", "--redis=" + redis.address(), "--redis-timeout=1s"});
  LoginsAndAddAreAttributed(c);
}

}  // namespace
}  // namespace relaysync
