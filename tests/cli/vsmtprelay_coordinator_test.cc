// vsmtprelay --coordinator against an in-process coordinator (real gRPC on
// loopback, embedded store): what the coordinator refuses reaches the user
// as the local checks do.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/embedded_store.h"
#include "common/never_relay.h"
#include "common/ticks.h"
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

  // Reports one login as agent `host` over a Sync stream of its own and
  // waits for its acknowledgement: it is then in the store.
  void AgentLogin(const std::string& host, const std::string& address,
                  int64_t t, const std::string& user) {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", coordinator_->port()),
                            grpc::InsecureChannelCredentials());
    auto sync = v1::RelaySync::NewStub(channel);
    grpc::ClientContext ctx;
    auto stream = sync->Sync(&ctx);
    v1::AgentMessage msg;
    msg.mutable_hello()->set_host_id(host);
    ASSERT_TRUE(stream->Write(msg));
    msg.Clear();
    v1::LoginEvent* e = msg.mutable_logins()->add_events();
    e->set_event_id(host + "/1");
    e->set_address(address);
    e->set_login_time(t);
    e->set_user(user);
    ASSERT_TRUE(stream->Write(msg));
    v1::CoordinatorMessage reply;
    bool acked = false;
    while (!acked && stream->Read(&reply)) acked = reply.has_ack();
    EXPECT_TRUE(acked);
    stream->WritesDone();
    ctx.TryCancel();
    stream->Finish();
  }

  static std::string Entry(const std::string& ip, int64_t ticks,
                           const std::string& attribution = "") {
    return absl::StrCat(
        "# timestamp (UTC): ", FormatCtimeUtc(ticks), "\n",
        attribution.empty() ? "" : "# attribution: ", attribution,
        attribution.empty() ? "" : "\n", ip, "\t", ticks, "\n");
  }

  std::unique_ptr<Coordinator> coordinator_;
  std::string flag_;
};

TEST_F(VsmtprelayCoordinatorTest, AttributionNamesWhoGrantedEachEntry) {
  ASSERT_EQ(Run({flag_, "add", "192.0.2.1", "1000"}).code, kExitOk);
  // A user name that would forge an entry line and clear the terminal if
  // printed raw; control characters are valid UTF-8, so a string field
  // carries them.
  const std::string hostile = "eve\n192.0.2.66\t2100000000\n\x1b[2J";
  AgentLogin("mx1", "192.0.2.7", kNow - 5, hostile);
  AgentLogin("mx2", "192.0.2.8", kNow - 100, "");

  // Without the option, byte for byte what dump printed before.
  CliResult plain = Run({flag_, "dump"});
  EXPECT_EQ(plain.code, kExitOk);
  EXPECT_EQ(plain.out, Entry("192.0.2.1", 1000) + Entry("192.0.2.7", kNow - 5) +
                           Entry("192.0.2.8", kNow - 100));
  CliResult r = Run({flag_, "--attribution", "dump"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, Entry("192.0.2.1", 1000, "host=(admin) user=(insecure)") +
                       Entry("192.0.2.7", kNow - 5,
                             "host=mx1 user=eve\\x0a192.0.2.66\\x092100000000"
                             "\\x0a\\x1b[2J") +
                       Entry("192.0.2.8", kNow - 100, "host=mx2 user="));
  // list filters as before and is attributed the same way.
  r = Run({"list", "1", flag_, "--attribution"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, Entry("192.0.2.1", 1000, "host=(admin) user=(insecure)") +
                       Entry("192.0.2.8", kNow - 100, "host=mx2 user="));
}

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
