// vsmtprelay --coordinator against an in-process coordinator (real gRPC on
// loopback, embedded store): what the coordinator refuses reaches the user
// as the local checks do.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/store/embedded_store.h"
#include "backends/store/store.h"
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

// stderr without the --insecure warning.
std::string Errors(const CliResult& r) {
  std::string out;
  for (absl::string_view line :
       absl::StrSplit(r.err, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "vsmtprelay: warning: --insecure")) {
      absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

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
    // vsmtprelay 1.1.0's model: nothing expires but by `expire` (an entry
    // at ticks 0 or 1000 would otherwise go at the next expiry pass).
    options.writer.expire_after = absl::ZeroDuration();
    auto rule = NeverRelay::WithExtra("198.51.100.0/24", "--never-relay");
    ASSERT_TRUE(rule.ok()) << rule.status();
    options.never_relay = *rule;
    Seed(**store);
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

  // Fills the store before the coordinator starts.
  virtual void Seed(Store& store) { (void)store; }

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

// 2,500 entries: more than one DeleteRequest may carry.
class VsmtprelayCoordinatorBulkTest : public VsmtprelayCoordinatorTest {
 protected:
  static constexpr int kEntries = 2500;
  static std::string Ip(int i) {
    return absl::StrCat("10.9.", i / 256, ".", i % 256);
  }
  void Seed(Store& store) override {
    std::vector<Login> logins;
    for (int i = 0; i < kEntries; ++i) logins.push_back({Ip(i), kNow});
    ASSERT_TRUE(store.MergeLogins(logins, INT64_MIN).ok());
  }
};

TEST_F(VsmtprelayCoordinatorBulkTest, DeleteOfMoreThanOneRequestsWorthWorks) {
  ASSERT_THAT(Run({flag_, "status"}).out, HasSubstr("entries: 2500\n"));
  std::vector<std::string> args = {flag_, "delete"};
  for (int i = 0; i < kEntries; ++i) args.push_back(Ip(i));
  CliResult r = Run(args);
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Errors(r), "");
  EXPECT_EQ(Run({flag_, "dump"}).out, "");
}

TEST_F(VsmtprelayCoordinatorBulkTest, DeleteReportsTheMissingAcrossTheSplit) {
  std::vector<std::string> args = {flag_, "delete"};
  for (int i = 0; i < kEntries; ++i) args.push_back(Ip(i));
  // Absent ones at the end of the first request, the start of the second,
  // and the very end; one present address twice, in different requests.
  args.insert(args.begin() + 2 + 999, "192.0.2.1");
  args.insert(args.begin() + 2 + 1000, "192.0.2.2");
  args.push_back("192.0.2.3");
  args.push_back(Ip(7));
  CliResult r = Run(args);
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(Errors(r),
            "vsmtprelay: 192.0.2.1: not present in the cluster\n"
            "vsmtprelay: 192.0.2.2: not present in the cluster\n"
            "vsmtprelay: 192.0.2.3: not present in the cluster\n"
            "vsmtprelay: 10.9.0.7: not present in the cluster\n");
  EXPECT_EQ(Run({flag_, "dump"}).out, "");
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
// 0 on the wire, so it stores now. It refuses any delete but the first.
class OldAdmin final : public v1::Admin::Service {
  grpc::Status Add(grpc::ServerContext*, const v1::AddRequest* request,
                   v1::AddResponse* response) override {
    response->mutable_entry()->set_address(request->address());
    response->mutable_entry()->set_ticks(
        request->ticks() == 0 ? 1234567890 : request->ticks());
    return grpc::Status::OK;
  }
  grpc::Status Delete(grpc::ServerContext*, const v1::DeleteRequest*,
                      v1::DeleteResponse*) override {
    if (deletes_++ == 0) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no more");
  }
  std::atomic<int> deletes_{0};
};

class VsmtprelayOldCoordinatorTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    flag_ = absl::StrCat("--coordinator=127.0.0.1:", port);
    env_["VSMTPRELAY_INSECURE"] = "1";
  }
  void TearDown() override { server_->Shutdown(); }

  OldAdmin admin_;
  std::unique_ptr<grpc::Server> server_;
  std::string flag_;
};

TEST_F(VsmtprelayOldCoordinatorTest, OneThatStoresNowForZeroIsReported) {
  CliResult r = Run({flag_, "add", "192.0.2.1", "0"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("stored 192.0.2.1 with ticks 1234567890, not "
                               "0: it predates exact ticks"));
  EXPECT_EQ(Run({flag_, "add", "192.0.2.1", "5"}).code, kExitOk);
  EXPECT_EQ(Run({flag_, "add", "192.0.2.1"}).code, kExitOk);
}

TEST_F(VsmtprelayOldCoordinatorTest, ADeleteFailingHalfWaySaysWhatIsDone) {
  std::vector<std::string> args = {flag_, "delete"};
  for (int i = 0; i < 1500; ++i) {
    args.push_back(absl::StrCat("10.9.", i / 256, ".", i % 256));
  }
  CliResult r = Run(args);
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("no more (the first 1000 of 1500 addresses "
                               "were deleted, the rest not)"));
}

}  // namespace
}  // namespace relaysync
