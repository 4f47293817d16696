// vsmtprelay --coordinator against an in-process coordinator (real gRPC on
// loopback, embedded store): what the coordinator refuses reaches the user
// as the local checks do.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/embedded_store.h"
#include "common/never_relay.h"
#include "coordinator/coordinator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
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

// What vsmtprelay 1.1.0 prints for an entry stamped 0.
constexpr char kEpochEntry[] =
    "# timestamp (UTC): Thu Jan  1 00:00:00 1970\n192.0.2.1\t0\n";

TEST_F(VsmtprelayCoordinatorTest, AddWithTicksZeroStoresTheEpoch) {
  ASSERT_EQ(Run({flag_, "add", "192.0.2.1", "0"}).code, kExitOk);
  EXPECT_EQ(Run({flag_, "dump"}).out, kEpochEntry);
  EXPECT_EQ(Run({flag_, "list"}).out, kEpochEntry);
  EXPECT_EQ(Run({flag_, "list", "60"}).out, kEpochEntry);
  // The same bytes as on a local file.
  const std::string db = "--db=" + dir_.File("local.db");
  ASSERT_EQ(Run({db, "add", "192.0.2.1", "0"}).code, kExitOk);
  EXPECT_EQ(Run({db, "dump"}).out, kEpochEntry);
  EXPECT_EQ(Run({flag_, "expire"}).out, "expired 1 entry\n");
}

TEST_F(VsmtprelayCoordinatorTest, AddWithoutTicksIsNowByTheCoordinator) {
  ASSERT_EQ(Run({flag_, "add", "192.0.2.1"}).code, kExitOk);
  EXPECT_THAT(Run({flag_, "dump"}).out,
              HasSubstr(absl::StrCat("192.0.2.1\t", kNow, "\n")));
}

// A coordinator from before AddRequest.ticks was optional: it cannot see a
// 0 on the wire, so it stores now.
class OldAdmin final : public v1::Admin::Service {
  grpc::Status Add(grpc::ServerContext*, const v1::AddRequest* request,
                   v1::AddResponse* response) override {
    response->mutable_entry()->set_address(request->address());
    response->mutable_entry()->set_ticks(
        request->ticks() == 0 ? 1234567890 : request->ticks());
    return grpc::Status::OK;
  }
};

TEST_F(VsmtprelayCoordinatorTest, AnOldCoordinatorThatStoresNowIsReported) {
  OldAdmin old_admin;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&old_admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string old = absl::StrCat("--coordinator=127.0.0.1:", port);
  CliResult r = Run({old, "add", "192.0.2.1", "0"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("stored 192.0.2.1 with ticks 1234567890, not "
                               "0: it predates exact ticks"));
  EXPECT_EQ(Run({old, "add", "192.0.2.1", "5"}).code, kExitOk);
  EXPECT_EQ(Run({old, "add", "192.0.2.1"}).code, kExitOk);
  server->Shutdown();
}

}  // namespace
}  // namespace relaysync
