// vsmtprelay --coordinator against an in-process coordinator (real gRPC on
// loopback, embedded store): what the coordinator refuses reaches the user
// as the local checks do.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/embedded_store.h"
#include "common/never_relay.h"
#include "coordinator/coordinator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_test_util.h"

namespace relaysync {
namespace {

using testing::CliResult;
using ::testing::HasSubstr;
using ::testing::Not;

class VsmtprelayCoordinatorTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    EmbeddedStoreOptions store_options;
    store_options.data_dir = dir_.File("data");
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.tls.insecure = true;  // authentication: tests/coordinator
    auto rule = NeverRelay::WithExtra("198.51.100.0/24", "--never-relay");
    ASSERT_TRUE(rule.ok()) << rule.status();
    options.never_relay = *rule;
    auto c = Coordinator::Start(std::move(*store), options, &clock_);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::move(*c);
    flag_ = absl::StrCat("--coordinator=127.0.0.1:", coordinator_->port());
    env_["VSMTPRELAY_INSECURE"] = "1";
  }

  std::unique_ptr<Coordinator> coordinator_;
  std::string flag_;
};

TEST_F(VsmtprelayCoordinatorTest, AddOfTheCoordinatorsNeverRelayIsAUsageError) {
  CliResult r = Run({flag_, "add", "198.51.100.5"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("address 198.51.100.5 is never relayed "
                               "(--never-relay: 198.51.100.0/24)"));
  r = Run({flag_, "add", "0.0.0.0"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("address 0.0.0.0 is never relayed"));
  ASSERT_EQ(Run({flag_, "add", "192.0.2.1", "1000"}).code, kExitOk);
  EXPECT_THAT(Run({flag_, "dump"}).out, HasSubstr("192.0.2.1\t1000\n"));
  EXPECT_THAT(Run({flag_, "dump"}).out, Not(HasSubstr("198.51.100.5")));
  // Counted by the coordinator (0.0.0.0 never left vsmtprelay).
  EXPECT_THAT(Run({flag_, "status"}).out,
              HasSubstr("never-relay refusals: 1\n"));
}

}  // namespace
}  // namespace relaysync
