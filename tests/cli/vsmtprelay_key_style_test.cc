// vsmtprelay on a local map whose IPv6 keys come in either spelling: the
// agent's (sendmail's "ipv6:" full form), an older vsmtprelay's (canonical),
// or both at once. Output shows keys as stored; delete finds every
// spelling; add writes sendmail's unless told otherwise.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/materializer.h"
#include "backends/map/relayers_db.h"
#include "common/ticks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_test_util.h"

namespace relaysync {
namespace {

using testing::CliResult;

std::string Entry(const std::string& key, int64_t ticks) {
  return absl::StrCat("# timestamp (UTC): ", FormatCtimeUtc(ticks), "\n", key,
                      "\t", ticks, "\n");
}

class VsmtprelayKeyStyleTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    MapOptions options;
    options.sync_to_disk = false;  // as the agent opens it
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(DefaultDb(), RelayersDb::Mode::kReadWrite, options);
    ASSERT_TRUE(db.ok()) << db.status();
    map_ = std::move(*db);
  }

  // Stores raw keys, as another tool may have.
  void PutRaw(const std::vector<std::pair<std::string, int64_t>>& entries) {
    MapBatch batch;
    for (const auto& [key, ticks] : entries) batch.Put(key, ticks);
    ASSERT_TRUE(map_->Apply(batch).ok());
  }

  std::unique_ptr<RelayersDb> map_;
};

TEST_F(VsmtprelayKeyStyleTest, FindsListsAndDeletesWhatTheAgentWrote) {
  // The agent's writer, with its default key style.
  Materializer agent(map_.get(), KeyStyle::kSendmail, &clock_);
  ASSERT_TRUE(agent
                  .ApplySnapshot({{"10.0.0.1", kNow},
                                  {"2001:db8::7", kNow - 60},
                                  {"2001:db8::8", kNow}})
                  .ok());
  const std::string v6 = Entry("ipv6:2001:db8:0:0:0:0:0:7", kNow - 60);
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", kNow) + v6 +
                                   Entry("ipv6:2001:db8:0:0:0:0:0:8", kNow));
  EXPECT_EQ(Run({"list", "1"}).out, v6);

  CliResult r = Run({"--db=" + DefaultDb(), "delete", "2001:db8::7"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Run({"dump"}).out,
            Entry("10.0.0.1", kNow) + Entry("ipv6:2001:db8:0:0:0:0:0:8", kNow));
  // Named in any form; reported in canonical form once gone.
  EXPECT_EQ(Run({"delete", "IPv6:2001:DB8:0:0:0:0:0:8"}).code, kExitOk);
  r = Run({"delete", "2001:db8::7"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err,
            "vsmtprelay: 2001:db8::7: not present in " + DefaultDb() + "\n");
}

TEST_F(VsmtprelayKeyStyleTest, AMapWithBothSpellingsListsEachAndDeletesAll) {
  PutRaw({{"2001:db8::7", 5},
          {"ipv6:2001:db8:0:0:0:0:0:7", 6},
          {"ipv6:2001:db8::7", 7},
          {"10.0.0.1", 8}});
  // Each key as stored, in address order, ties by key text.
  const std::string both = Entry("2001:db8::7", 5) +
                           Entry("ipv6:2001:db8:0:0:0:0:0:7", 6) +
                           Entry("ipv6:2001:db8::7", 7);
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", 8) + both);
  EXPECT_EQ(Run({"list"}).out, Entry("10.0.0.1", 8) + both);
  // One address, one "not present" check: all its keys go.
  CliResult r = Run({"delete", "2001:db8::7", "10.0.0.1"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Run({"dump"}).out, "");
}

TEST_F(VsmtprelayKeyStyleTest, ARepeatedAddressIsRemovedOnceThenMissing) {
  PutRaw({{"2001:db8::7", 5}, {"ipv6:2001:db8:0:0:0:0:0:7", 6}});
  CliResult r = Run({"delete", "2001:db8::7", "ipv6:2001:db8:0:0:0:0:0:7"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err,
            "vsmtprelay: 2001:db8::7: not present in " + DefaultDb() + "\n");
  EXPECT_EQ(Run({"dump"}).out, "");
}

TEST_F(VsmtprelayKeyStyleTest, AddWritesSendmailKeysAndReplacesOtherSpellings) {
  PutRaw({{"2001:db8::7", 5}, {"ipv6:2001:db8::7", 6}});  // older tools
  ASSERT_EQ(Run({"add", "2001:db8::7", "9"}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("ipv6:2001:db8:0:0:0:0:0:7", 9));
  // What the agent reads as its own: it keeps the key.
  Materializer agent(map_.get(), KeyStyle::kSendmail, &clock_);
  ASSERT_TRUE(agent.ApplySnapshot({{"2001:db8::7", 9}}).ok());
  EXPECT_EQ(Run({"dump"}).out, Entry("ipv6:2001:db8:0:0:0:0:0:7", 9));
  // --key-style=canonical still chooses the other spelling.
  ASSERT_EQ(Run({"--key-style=canonical", "add", "2001:db8::7", "10"}).code,
            kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("2001:db8::7", 10));
  // IPv4 is the same in both.
  ASSERT_EQ(Run({"--key-style=canonical", "add", "10.0.0.1", "1"}).code,
            kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.1", "2"}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", 2) + Entry("2001:db8::7", 10));
}

}  // namespace
}  // namespace relaysync
