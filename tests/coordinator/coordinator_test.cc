// The coordinator's gRPC surface, in-process over a real loopback socket and
// a real embedded store: protocol rules, validation, health.
#include "coordinator/coordinator.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/store/embedded_store.h"
#include "common/never_relay.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 2000000000;

// The embedded store, with its next Version() calls failing as they do
// while Redis is down or still loading its AOF.
class StoreThatCanBeDown : public Store {
 public:
  explicit StoreThatCanBeDown(std::unique_ptr<Store> store)
      : store_(std::move(store)) {}
  std::atomic<int> failing_versions{0};

  std::string Name() const override { return store_->Name(); }
  std::string Epoch() const override { return store_->Epoch(); }
  absl::StatusOr<MutationResult> MergeLogins(const std::vector<Login>& logins,
                                             int64_t not_after) override {
    return store_->MergeLogins(logins, not_after);
  }
  absl::StatusOr<MutationResult> Put(const std::string& address, int64_t ticks,
                                     const Attribution& who) override {
    return store_->Put(address, ticks, who);
  }
  absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses, int64_t now) override {
    return store_->Delete(addresses, now);
  }
  absl::StatusOr<MutationResult> Expire(int64_t cutoff,
                                        int64_t forget_before) override {
    return store_->Expire(cutoff, forget_before);
  }
  absl::StatusOr<Snapshot> ReadSnapshot() override {
    return store_->ReadSnapshot();
  }
  absl::StatusOr<std::vector<AttributedEntry>> ReadAttributed() override {
    return store_->ReadAttributed();
  }
  absl::StatusOr<std::vector<StateChange>> ChangesSince(uint64_t since,
                                                        size_t limit) override {
    return store_->ChangesSince(since, limit);
  }
  absl::StatusOr<uint64_t> Version() override {
    if (failing_versions.fetch_sub(1) > 0) {
      return absl::UnavailableError("store is loading");
    }
    return store_->Version();
  }
  absl::StatusOr<int64_t> EntryCount() override { return store_->EntryCount(); }
  absl::StatusOr<int64_t> CountLaterThan(int64_t ticks) override {
    return store_->CountLaterThan(ticks);
  }
  int concurrent_merges() const override { return store_->concurrent_merges(); }
  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override {
    return store_->WaitForChange(since, timeout);
  }

 private:
  std::unique_ptr<Store> store_;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(absl::ZeroDuration()); }

  void Start(absl::Duration expire_after, int push_budget = 5000,
             const std::string& never_relay = "") {
    coordinator_.reset();
    EmbeddedStoreOptions store_options;
    store_options.data_dir = dir_.File("data");
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.tls.insecure = true;  // authentication: security_test.cc
    options.writer.expire_after = expire_after;
    options.writer.max_clock_skew = absl::Seconds(60);
    options.push_budget = push_budget;
    auto rule = NeverRelay::WithExtra(never_relay, "--never-relay");
    ASSERT_TRUE(rule.ok()) << rule.status();
    options.never_relay = *rule;
    auto wrapped = std::make_unique<StoreThatCanBeDown>(std::move(*store));
    store_ = wrapped.get();
    auto c = Coordinator::Start(std::move(wrapped), options, &clock_);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::move(*c);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", coordinator_->port()),
                            grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    sync_ = v1::RelaySync::NewStub(channel_);
  }

  // Opens a Sync stream, sends the hello and reads the expiry policy that
  // answers it (into `policy` if given).
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
  OpenSync(grpc::ClientContext* ctx, const std::string& host,
           uint64_t version = 0, const std::string& epoch = "",
           v1::ExpiryPolicy* policy = nullptr) {
    auto stream = sync_->Sync(ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_host_id(host);
    hello.mutable_hello()->set_applied_version(version);
    hello.mutable_hello()->set_store_epoch(epoch);
    EXPECT_TRUE(stream->Write(hello));
    v1::CoordinatorMessage first;
    EXPECT_TRUE(stream->Read(&first));
    EXPECT_TRUE(first.has_expiry_policy()) << "the policy comes first";
    if (policy != nullptr) *policy = first.expiry_policy();
    return stream;
  }

  // The store's epoch, as a new agent "h" learns it from its snapshot.
  std::string StoreEpoch() {
    grpc::ClientContext ctx;
    auto stream = OpenSync(&ctx, "h");
    v1::CoordinatorMessage reply;
    EXPECT_TRUE(stream->Read(&reply));
    ctx.TryCancel();
    stream->Finish();
    return reply.snapshot().store_epoch();
  }

  v1::LoginEvent* AddEvent(v1::AgentMessage* msg, const std::string& id,
                           const std::string& address, int64_t t) {
    v1::LoginEvent* e = msg->mutable_logins()->add_events();
    e->set_event_id(id);
    e->set_address(address);
    e->set_login_time(t);
    return e;
  }

  // Sends `msg`, closes the sending side and returns how the stream ended.
  template <typename Stream>
  grpc::Status SendLastAndFinish(Stream* stream, const v1::AgentMessage& msg) {
    stream->Write(msg);
    stream->WritesDone();
    v1::CoordinatorMessage reply;
    while (stream->Read(&reply)) {
    }
    return stream->Finish();
  }

  std::map<std::string, int64_t> Dump() {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    auto reader = admin_->List(&ctx, req);
    v1::ListResponse chunk;
    std::map<std::string, int64_t> out;
    while (reader->Read(&chunk)) {
      for (const auto& e : chunk.entries()) out[e.address()] = e.ticks();
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  testing::ScratchDir dir_;
  StoreThatCanBeDown* store_ = nullptr;  // owned by coordinator_
  FakeClock clock_{absl::FromUnixSeconds(kNow)};
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::RelaySync::Stub> sync_;
};

TEST_F(CoordinatorTest, HealthServiceReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service :
       {"", "relaysync.v1.RelaySync", "relaysync.v1.Admin"}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(CoordinatorTest, AddStoresTicksExactlyAndAbsentTicksAsNow) {
  for (const auto& [address, ticks] :
       std::vector<std::pair<std::string, std::optional<int64_t>>>{
           {"10.0.0.1", 0}, {"10.0.0.2", std::nullopt}, {"10.0.0.3", 5}}) {
    grpc::ClientContext ctx;
    v1::AddRequest req;
    req.set_address(address);
    if (ticks) req.set_ticks(*ticks);
    v1::AddResponse resp;
    ASSERT_TRUE(admin_->Add(&ctx, req, &resp).ok()) << address;
    EXPECT_EQ(resp.entry().ticks(), ticks.value_or(kNow)) << address;
  }
  // 0 is the epoch, not "now"; and the entry is present at 0.
  EXPECT_EQ(Dump(), (std::map<std::string, int64_t>{
                        {"10.0.0.1", 0}, {"10.0.0.2", kNow}, {"10.0.0.3", 5}}));
}

TEST_F(CoordinatorTest, AdminRejectsBadInputNamingTheField) {
  {
    grpc::ClientContext ctx;
    v1::AddRequest req;
    req.set_address("10.0.0.300");
    v1::AddResponse resp;
    grpc::Status s = admin_->Add(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("address: invalid IP address"));
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteRequest req;
    req.add_addresses("10.0.0.1");
    req.add_addresses("bogus");
    v1::DeleteResponse resp;
    grpc::Status s = admin_->Delete(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("addresses[1]"));
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteRequest req;
    for (int i = 0; i < 1001; ++i) req.add_addresses("10.0.0.1");
    v1::DeleteResponse resp;
    grpc::Status s = admin_->Delete(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("at most 1000"));
  }
  {
    grpc::ClientContext ctx;
    v1::ExpireRequest req;
    req.set_older_than_seconds(-5);
    v1::ExpireResponse resp;
    EXPECT_EQ(admin_->Expire(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_TRUE(Dump().empty());
}

TEST_F(CoordinatorTest, SyncRequiresHelloFirst) {
  grpc::ClientContext ctx;
  auto stream = sync_->Sync(&ctx);
  v1::AgentMessage msg;
  AddEvent(&msg, "h/1", "10.0.0.1", kNow);
  grpc::Status s = SendLastAndFinish(stream.get(), msg);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("hello"));
}

TEST_F(CoordinatorTest, SyncRejectsOversizedBatch) {
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "h");
  v1::AgentMessage msg;
  for (int i = 0; i < 1001; ++i) {
    AddEvent(&msg, absl::StrCat("h/", i), "10.0.0.1", kNow);
  }
  grpc::Status s = SendLastAndFinish(stream.get(), msg);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("logins.events"));
}

TEST_F(CoordinatorTest, ListCarriesAttributionOnlyWhenAsked) {
  {
    grpc::ClientContext ctx;
    v1::AddRequest req;
    req.set_address("10.0.0.9");
    v1::AddResponse resp;
    ASSERT_TRUE(admin_->Add(&ctx, req, &resp).ok());
  }
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "mx1");
  v1::AgentMessage msg;
  AddEvent(&msg, "mx1/1", "10.0.0.1", kNow - 5)->set_user("bob\n\x1b[2J");
  ASSERT_TRUE(stream->Write(msg));
  v1::CoordinatorMessage reply;
  bool acked = false;
  while (!acked && stream->Read(&reply)) acked = reply.has_ack();
  ASSERT_TRUE(acked);
  // Agents' snapshots carry none.
  grpc::ClientContext ctx2;
  auto other = OpenSync(&ctx2, "mx2");
  ASSERT_TRUE(other->Read(&reply));
  ASSERT_TRUE(reply.has_snapshot());
  EXPECT_EQ(reply.snapshot().entries_size(), 2);
  for (const v1::Entry& e : reply.snapshot().entries()) {
    EXPECT_EQ(e.user(), "");
    EXPECT_EQ(e.host_id(), "");
  }

  for (bool attribution : {false, true}) {
    grpc::ClientContext list_ctx;
    v1::ListRequest req;
    req.set_attribution(attribution);
    auto reader = admin_->List(&list_ctx, req);
    v1::ListResponse chunk;
    std::map<std::string, std::string> who;
    while (reader->Read(&chunk)) {
      for (const v1::Entry& e : chunk.entries()) {
        who[e.address()] = e.host_id() + "/" + e.user();
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(who, attribution ? (std::map<std::string, std::string>{
                                     {"10.0.0.1", "mx1/bob\n\x1b[2J"},
                                     {"10.0.0.9", "(admin)/(insecure)"}})
                               : (std::map<std::string, std::string>{
                                     {"10.0.0.1", "/"}, {"10.0.0.9", "/"}}));
  }
}

TEST_F(CoordinatorTest, SnapshotThenAckThenDeltas) {
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "h");
  v1::CoordinatorMessage reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_snapshot()) << "unknown epoch: a snapshot first";
  EXPECT_TRUE(reply.snapshot().last());
  const std::string epoch = reply.snapshot().store_epoch();
  EXPECT_FALSE(epoch.empty());

  v1::AgentMessage msg;
  AddEvent(&msg, "h/1", "10.0.0.1", kNow - 5);
  AddEvent(&msg, "h/2", "FD00::0005", kNow - 4);
  AddEvent(&msg, "h/3", "not-an-ip", kNow);  // dropped, still acknowledged
  ASSERT_TRUE(stream->Write(msg));
  std::set<std::string> acked;
  std::map<std::string, int64_t> deltas;
  uint64_t last_version = reply.snapshot().version();
  for (int i = 0; i < 20 && (acked.size() < 3 || deltas.size() < 2); ++i) {
    ASSERT_TRUE(stream->Read(&reply));
    if (reply.has_ack()) {
      // The state an ack covers comes first, so the agent never drops its
      // local entry before the cluster's arrives.
      EXPECT_EQ(deltas.size(), 2u) << "ack before its deltas";
      for (const auto& id : reply.ack().event_ids()) acked.insert(id);
    }
    if (reply.has_deltas()) {
      EXPECT_EQ(reply.deltas().store_epoch(), epoch);
      for (const auto& d : reply.deltas().deltas()) {
        EXPECT_EQ(d.version(), last_version + 1) << "dense, in order";
        last_version = d.version();
        deltas[d.address()] = d.ticks();
      }
    }
  }
  EXPECT_EQ(acked, (std::set<std::string>{"h/1", "h/2", "h/3"}));
  EXPECT_EQ(deltas, (std::map<std::string, int64_t>{{"10.0.0.1", kNow - 5},
                                                    {"fd00::5", kNow - 4}}));
  ctx.TryCancel();
  stream->Finish();

  // A reconnect from a known version gets only what it lacks.
  grpc::ClientContext ctx2;
  auto again = OpenSync(&ctx2, "h", last_version - 1, epoch);
  ASSERT_TRUE(again->Read(&reply));
  ASSERT_TRUE(reply.has_deltas());
  ASSERT_EQ(reply.deltas().deltas_size(), 1);
  EXPECT_EQ(reply.deltas().deltas(0).version(), last_version);
  ctx2.TryCancel();
  again->Finish();
}

// A budget of 20 pushes/s with two agents spaces each agent's pushes
// 100 ms apart (the longest beat): a burst of changes arrives in a few
// messages, complete and in order, well within a second.
TEST_F(CoordinatorTest, PacedPushesCarrySeveralChangesAndLoseNone) {
  Start(absl::ZeroDuration(), /*push_budget=*/20);
  grpc::ClientContext ctx_a, ctx_b;
  auto a = OpenSync(&ctx_a, "a");
  auto b = OpenSync(&ctx_b, "b");
  v1::CoordinatorMessage reply;
  ASSERT_TRUE(a->Read(&reply));
  ASSERT_TRUE(b->Read(&reply));
  ASSERT_TRUE(reply.has_snapshot());
  uint64_t last_version = reply.snapshot().version();
  const absl::Time start = absl::Now();
  constexpr int kChanges = 20;
  for (int i = 0; i < kChanges; ++i) {
    grpc::ClientContext ctx;
    v1::AddRequest req;
    req.set_address(absl::StrCat("10.7.0.", i + 1));
    v1::AddResponse resp;
    ASSERT_TRUE(admin_->Add(&ctx, req, &resp).ok());
  }
  int messages = 0, deltas = 0;
  while (deltas < kChanges && b->Read(&reply)) {
    if (!reply.has_deltas()) continue;
    ++messages;
    for (const auto& d : reply.deltas().deltas()) {
      EXPECT_EQ(d.version(), last_version + 1) << "dense, in order";
      last_version = d.version();
      ++deltas;
    }
  }
  EXPECT_EQ(deltas, kChanges);
  EXPECT_LT(messages, kChanges / 2) << "pushes were not batched";
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ctx_a.TryCancel();
  ctx_b.TryCancel();
  a->Finish();
  b->Finish();
}

TEST_F(CoordinatorTest, AgentAheadOfTheStoreGetsASnapshot) {
  const std::string epoch = StoreEpoch();
  v1::CoordinatorMessage reply;
  // Same epoch, but a version this store never reached (restored backup).
  grpc::ClientContext ctx2;
  auto again = OpenSync(&ctx2, "h", 999, epoch);
  ASSERT_TRUE(again->Read(&reply));
  EXPECT_TRUE(reply.has_snapshot());
  ctx2.TryCancel();
  again->Finish();
}

TEST_F(CoordinatorTest, AgentSayingHelloWhileTheStoreIsDownIsToldToRetry) {
  const std::string epoch = StoreEpoch();
  v1::CoordinatorMessage reply;
  // The store cannot say its version: that is no proof it lost the agent's
  // state, so no snapshot asking the agent to re-send its map.
  store_->failing_versions = 1;  // then back before a snapshot is read
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(10));
  auto again = sync_->Sync(&ctx2);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id("h");
  hello.mutable_hello()->set_store_epoch(epoch);
  ASSERT_TRUE(again->Write(hello));
  while (again->Read(&reply)) {
    EXPECT_FALSE(reply.has_snapshot() && reply.snapshot().resend())
        << "told to re-send its whole map";
  }
  grpc::Status s = again->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("store is loading"));
}

TEST_F(CoordinatorTest, ClampsFutureLoginTimesAndDropsExpiredOnes) {
  Start(absl::Minutes(30));
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "h");
  v1::AgentMessage msg;
  AddEvent(&msg, "h/1", "10.0.0.1", kNow + 3600);     // clock skew
  AddEvent(&msg, "h/2", "10.0.0.2", kNow + 30);       // within tolerance
  AddEvent(&msg, "h/3", "10.0.0.3", kNow - 31 * 60);  // already expired
  ASSERT_TRUE(stream->Write(msg));
  v1::CoordinatorMessage reply;
  bool acked = false;
  for (int i = 0; i < 10 && !acked; ++i) {
    ASSERT_TRUE(stream->Read(&reply));
    acked = reply.has_ack();
  }
  ASSERT_TRUE(acked);
  EXPECT_EQ(Dump(), (std::map<std::string, int64_t>{{"10.0.0.1", kNow},
                                                    {"10.0.0.2", kNow + 30}}));
  ctx.TryCancel();
  stream->Finish();
}

TEST_F(CoordinatorTest, NeverRelayedLoginsAreAckedButNeverStored) {
  Start(absl::ZeroDuration(), 5000, "198.51.100.0/24");
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "mx1");
  v1::AgentMessage msg;
  AddEvent(&msg, "mx1/1", "0.0.0.0", kNow);
  AddEvent(&msg, "mx1/2", "198.51.100.7", kNow);  // --never-relay
  AddEvent(&msg, "mx1/3", "ff02::1", kNow);
  AddEvent(&msg, "mx1/4", "10.0.0.9", kNow);  // a good one after them
  ASSERT_TRUE(stream->Write(msg));
  std::set<std::string> acked;
  v1::CoordinatorMessage reply;
  for (int i = 0; i < 20 && acked.size() < 4; ++i) {
    ASSERT_TRUE(stream->Read(&reply));
    for (const std::string& id : reply.ack().event_ids()) acked.insert(id);
  }
  EXPECT_EQ(acked, (std::set<std::string>{"mx1/1", "mx1/2", "mx1/3", "mx1/4"}));
  EXPECT_EQ(Dump(), (std::map<std::string, int64_t>{{"10.0.0.9", kNow}}));
  // The stream goes on: a later batch is merged as usual.
  v1::AgentMessage next;
  AddEvent(&next, "mx1/5", "10.0.0.10", kNow);
  ASSERT_TRUE(stream->Write(next));
  EXPECT_TRUE(testing::WaitForCondition([&] { return Dump().size() == 2; },
                                        absl::Seconds(5)));
  grpc::ClientContext sctx;
  v1::StatusResponse status;
  ASSERT_TRUE(admin_->Status(&sctx, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(status.never_relay_refused(), 3);
  ctx.TryCancel();
  stream->Finish();
}

TEST_F(CoordinatorTest, AdminAddOfANeverRelayedAddressIsRefusedNamingTheRange) {
  Start(absl::ZeroDuration(), 5000, "198.51.100.0/24");
  for (const auto& [address, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"0.0.0.0",
            "address 0.0.0.0 is never relayed (unspecified address: "
            "0.0.0.0/32)"},
           {"255.255.255.255",
            "address 255.255.255.255 is never relayed (limited broadcast "
            "address: 255.255.255.255/32)"},
           {"::", "address :: is never relayed (unspecified address: ::/128)"},
           {"224.0.0.1",
            "address 224.0.0.1 is never relayed (multicast address: "
            "224.0.0.0/4)"},
           {"198.51.100.200",
            "address 198.51.100.200 is never relayed (--never-relay: "
            "198.51.100.0/24)"}}) {
    grpc::ClientContext ctx;
    v1::AddRequest req;
    req.set_address(address);
    v1::AddResponse resp;
    grpc::Status s = admin_->Add(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << address;
    EXPECT_EQ(s.error_message(), message);
  }
  EXPECT_TRUE(Dump().empty());
  // Deleting one stays possible (an entry from before the rule).
  grpc::ClientContext ctx;
  v1::DeleteRequest req;
  req.add_addresses("0.0.0.0");
  v1::DeleteResponse resp;
  EXPECT_TRUE(admin_->Delete(&ctx, req, &resp).ok());
}

TEST_F(CoordinatorTest, ExpiresWithinOneSecondOfTheWindow) {
  Start(absl::Seconds(60));
  grpc::ClientContext ctx;
  v1::AddRequest req;
  req.set_address("10.0.0.1");
  req.set_ticks(kNow);
  v1::AddResponse resp;
  ASSERT_TRUE(admin_->Add(&ctx, req, &resp).ok());
  clock_.Advance(absl::Seconds(59));
  absl::SleepFor(absl::Milliseconds(600));  // > two expiry passes
  EXPECT_EQ(Dump().size(), 1u) << "not before its time";
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(testing::WaitForCondition([&] { return Dump().empty(); },
                                        absl::Seconds(1)));
}

TEST_F(CoordinatorTest, EveryStreamIsToldTheExpiryPolicyFirst) {
  v1::ExpiryPolicy policy;
  grpc::ClientContext ctx;
  auto stream = OpenSync(&ctx, "h", 0, "", &policy);
  EXPECT_EQ(policy.expire_after_seconds(), 0) << "SetUp: never expires";
  ctx.TryCancel();
  stream->Finish();

  Start(absl::Minutes(30));
  grpc::ClientContext ctx2;
  auto again = OpenSync(&ctx2, "h", 0, "", &policy);
  EXPECT_EQ(policy.expire_after_seconds(), 1800);
  v1::CoordinatorMessage reply;
  ASSERT_TRUE(again->Read(&reply));
  ASSERT_TRUE(reply.has_snapshot());
  // An agent that is up to date gets nothing else, and still the policy.
  grpc::ClientContext ctx3;
  auto resumed = OpenSync(&ctx3, "h", reply.snapshot().version(),
                          reply.snapshot().store_epoch(), &policy);
  EXPECT_EQ(policy.expire_after_seconds(), 1800);
}

TEST_F(CoordinatorTest, StatusListsConnectedAgents) {
  grpc::ClientContext sctx;
  auto stream = OpenSync(&sctx, "mx1");
  v1::CoordinatorMessage reply;
  ASSERT_TRUE(stream->Read(&reply));
  v1::AgentMessage applied;
  applied.mutable_applied()->set_version(reply.snapshot().version());
  ASSERT_TRUE(stream->Write(applied));
  v1::StatusResponse status;
  ASSERT_TRUE(testing::WaitForCondition(
      [&] {
        grpc::ClientContext ctx;
        v1::StatusRequest req;
        status.Clear();
        return admin_->Status(&ctx, req, &status).ok() &&
               status.agents_size() == 1;
      },
      absl::Seconds(5)));
  EXPECT_EQ(status.agents(0).host_id(), "mx1");
  EXPECT_THAT(status.store(), HasSubstr("embedded:"));
  EXPECT_FALSE(status.store_epoch().empty());
  sctx.TryCancel();
  stream->Finish();
}

}  // namespace
}  // namespace relaysync
