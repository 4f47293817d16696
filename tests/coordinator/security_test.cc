// Authentication and authorization at the coordinator, in-process over real
// loopback sockets with mutual TLS and certificates made by
// scripts/make-certs.sh: who is refused, who is let in, the health port,
// the policy file and the audit log.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/store/embedded_store.h"
#include "coordinator/coordinator.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadFile;
using testing::RunShell;

constexpr int64_t kNow = 2000000000;

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCerts("tls",
              "--coordinator=localhost,127.0.0.1 --agent=mx1 "
              "--agent=mx2 --admin=alice --reader=monitor");
    MakeCerts("other-ca", "--admin=mallory");
    MakeCerts("tls", "--days=-1 --admin=expired");
  }

  void MakeCerts(const std::string& dir, const std::string& flags) {
    ASSERT_EQ(RunShell(absl::StrCat(RELAYSYNC_MAKE_CERTS, " ", flags, " ",
                                    dir_.File(dir), " >/dev/null"))
                  .exit_code,
              0);
  }

  void Start(const std::string& policy = "", RateLimit calls = {100, 1000},
             int max_streams = 4, RateLimit logins = {}) {
    EmbeddedStoreOptions store_options;
    store_options.data_dir = dir_.File("data");
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.health_listen = "127.0.0.1:0";
    options.tls.ca = dir_.File("tls/ca.pem");
    options.tls.cert = dir_.File("tls/coordinator.pem");
    options.tls.key = dir_.File("tls/coordinator.key");
    options.authorizer.policy_file = policy;
    options.authorizer.calls = calls;
    options.authorizer.max_streams = max_streams;
    options.agent_login_limit = logins;
    options.audit_log = dir_.File("audit.log");
    auto c = Coordinator::Start(std::move(*store), options, &clock_);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::move(*c);
  }

  std::string Target() const {
    // By IP: a name would go through c-ares, whose resolver leaks a few
    // bytes that LeakSanitizer reports (the certificate has both).
    return absl::StrCat("127.0.0.1:", coordinator_->port());
  }

  // Client credentials for certificate `name` ("admin-alice", ...) from
  // `dir`, trusting the coordinator's CA.
  TlsFiles Client(const std::string& name, const std::string& dir = "tls") {
    TlsFiles files;
    files.ca = dir_.File("tls/ca.pem");
    files.cert = dir_.File(dir + "/" + name + ".pem");
    files.key = dir_.File(dir + "/" + name + ".key");
    return files;
  }

  std::unique_ptr<v1::Admin::Stub> Admin(const TlsFiles& tls) {
    return v1::Admin::NewStub(MakeChannel(Target(), absl::Seconds(10), tls));
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }

  // Stamped now by default: an entry at the epoch (ticks 0) would be
  // removed by the first expiry pass.
  grpc::Status Add(const TlsFiles& tls, const std::string& address,
                   int64_t ticks = kNow) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::AddRequest req;
    req.set_address(address);
    req.set_ticks(ticks);
    v1::AddResponse resp;
    return Admin(tls)->Add(&ctx, req, &resp);
  }

  // The addresses in the store, read as admin alice.
  std::vector<std::string> Addresses() {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListRequest req;
    auto reader = Admin(Client("admin-alice"))->List(&ctx, req);
    std::vector<std::string> out;
    v1::ListResponse chunk;
    while (reader->Read(&chunk)) {
      for (const v1::Entry& e : chunk.entries()) out.push_back(e.address());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  // Opens a Sync stream as `tls`, says hello as `host` and returns the
  // stream's final status (after the expiry policy and a snapshot, when the
  // hello is accepted).
  grpc::Status SyncAs(const TlsFiles& tls, const std::string& host,
                      bool* got_snapshot) {
    auto stub =
        v1::RelaySync::NewStub(MakeChannel(Target(), absl::Seconds(10), tls));
    grpc::ClientContext ctx;
    Deadline(&ctx);
    auto stream = stub->Sync(&ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_host_id(host);
    stream->Write(hello);
    v1::CoordinatorMessage in;
    *got_snapshot = stream->Read(&in) && in.has_expiry_policy() &&
                    stream->Read(&in) && in.has_snapshot();
    if (*got_snapshot) ctx.TryCancel();
    return stream->Finish();
  }

  // A Sync stream as agent mx1 with its hello sent, or nullptr.
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
  SyncAsMx1(grpc::ClientContext* ctx, bool accepts_deferred) {
    Deadline(ctx);
    auto stub = v1::RelaySync::NewStub(
        MakeChannel(Target(), absl::Seconds(10), Client("agent-mx1")));
    auto stream = stub->Sync(ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_host_id("mx1");
    hello.mutable_hello()->set_accepts_deferred(accepts_deferred);
    if (!stream->Write(hello)) return nullptr;
    return stream;
  }

  // One empty message to the server reflection service.
  static grpc::Status ReflectionCall(std::shared_ptr<grpc::Channel> channel) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::mutex mu;
    std::condition_variable cv;
    std::optional<grpc::Status> result;
    stub.UnaryCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
          std::lock_guard<std::mutex> l(mu);
          result = s;
          cv.notify_all();
        });
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return result.has_value(); });
    return *result;
  }

  testing::ScratchDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(kNow)};
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(SecurityTest, AdminMayAddAndTheChangeIsAudited) {
  Start();
  grpc::Status s = Add(Client("admin-alice"), "192.0.2.7");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Addresses(), std::vector<std::string>{"192.0.2.7"});
  const std::string audit = ReadFile(dir_.File("audit.log"));
  EXPECT_THAT(audit,
              HasSubstr("\"identity\":\"spiffe://relaysync/admin/alice\""));
  EXPECT_THAT(audit,
              HasSubstr("\"action\":\"add\",\"addresses\":[\"192.0.2.7\"]"
                        ",\"result\":\"ok\""));
}

TEST_F(SecurityTest, ReaderCannotAdd) {
  Start();
  grpc::Status s = Add(Client("reader-monitor"), "192.0.2.8");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("spiffe://relaysync/reader/monitor lacks the role "
                        "admin"));
  EXPECT_THAT(Addresses(), IsEmpty());
  EXPECT_THAT(ReadFile(dir_.File("audit.log")),
              HasSubstr("\"identity\":\"spiffe://relaysync/reader/monitor\""));
}

TEST_F(SecurityTest, AgentCannotAddOrList) {
  Start();
  EXPECT_EQ(Add(Client("agent-mx1"), "192.0.2.9").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::ListRequest req;
  auto reader = Admin(Client("agent-mx1"))->List(&ctx, req);
  v1::ListResponse chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(Addresses(), IsEmpty());
}

TEST_F(SecurityTest, ReaderMayListAndStatus) {
  Start();
  ASSERT_TRUE(Add(Client("admin-alice"), "192.0.2.10").ok());
  // An admin may stamp an entry in the future (it never expires): the
  // audit marks it, and Status counts it.
  ASSERT_TRUE(Add(Client("admin-alice"), "192.0.2.11", kNow + 86400).ok());
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::StatusRequest req;
  v1::StatusResponse resp;
  grpc::Status s = Admin(Client("reader-monitor"))->Status(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.entries(), 2);
  EXPECT_EQ(resp.future_entries(), 1);
  EXPECT_THAT(ReadFile(dir_.File("audit.log")),
              HasSubstr(absl::StrCat("\"detail\":\"future ticks ", kNow + 86400,
                                     " (now ", kNow, ")\"")));
}

TEST_F(SecurityTest, ClientWithoutCertificateIsRefused) {
  Start();
  TlsFiles no_cert = Client("admin-alice");
  // The CA alone: TLS without a client certificate. gRPC's file watcher
  // needs a key/cert pair to present one; without it none is sent.
  auto channel = grpc::CreateChannel(
      Target(), grpc::SslCredentials(
                    grpc::SslCredentialsOptions{ReadFile(no_cert.ca), "", ""}));
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::AddRequest req;
  req.set_address("192.0.2.11");
  v1::AddResponse resp;
  grpc::Status s = v1::Admin::NewStub(channel)->Add(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(Addresses(), IsEmpty());
}

TEST_F(SecurityTest, CertificateFromAnotherCaIsRefused) {
  Start();
  grpc::Status s = Add(Client("admin-mallory", "other-ca"), "192.0.2.12");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(Addresses(), IsEmpty());
}

TEST_F(SecurityTest, ExpiredCertificateIsRefused) {
  Start();
  grpc::Status s = Add(Client("admin-expired"), "192.0.2.13");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(Addresses(), IsEmpty());
}

TEST_F(SecurityTest, PlaintextClientIsRefused) {
  Start();
  TlsFiles plaintext;
  plaintext.insecure = true;
  grpc::Status s = Add(plaintext, "192.0.2.14");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(Addresses(), IsEmpty());
}

TEST_F(SecurityTest, RefusedHandshakesAreAudited) {
  Start();
  coordinator_->RefusedHandshake("peer did not return a certificate");
  EXPECT_THAT(ReadFile(dir_.File("audit.log")),
              HasSubstr("\"action\":\"tls-handshake\",\"addresses\":[],"
                        "\"result\":\"refused: peer did not return a "
                        "certificate\""));
}

TEST_F(SecurityTest, AgentSyncsAsItsOwnHostId) {
  Start();
  bool snapshot = false;
  grpc::Status s = SyncAs(Client("agent-mx1"), "mx1", &snapshot);
  EXPECT_TRUE(snapshot) << s.error_message();
}

TEST_F(SecurityTest, AgentCannotSayHelloAsAnotherHost) {
  Start();
  bool snapshot = false;
  grpc::Status s = SyncAs(Client("agent-mx1"), "mx2", &snapshot);
  EXPECT_FALSE(snapshot);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("may sync only as host id \"mx1\", not \"mx2\""));
  const std::string audit = ReadFile(dir_.File("audit.log"));
  EXPECT_THAT(audit,
              HasSubstr("\"identity\":\"spiffe://relaysync/agent/mx1\""));
  EXPECT_THAT(audit, HasSubstr("\"action\":\"sync\""));
}

TEST_F(SecurityTest, AdminCannotSync) {
  Start();
  bool snapshot = false;
  grpc::Status s = SyncAs(Client("admin-alice"), "alice", &snapshot);
  EXPECT_FALSE(snapshot);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("lacks the role agent"));
}

TEST_F(SecurityTest, PolicyFileMapsIdentitiesAndIsReReadWhenItChanges) {
  const std::string policy = dir_.File("policy");
  testing::WriteFile(policy,
                     "# only alice's reader rights\n"
                     "reader spiffe://relaysync/admin/alice\n");
  Start(policy);
  EXPECT_EQ(Add(Client("admin-alice"), "192.0.2.15").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  testing::WriteFile(policy,
                     "admin,reader spiffe://relaysync/admin/alice\n"
                     "agent        spiffe://relaysync/agent/*\n");
  // Re-read within about a second of the change (checked on calls).
  bool granted = testing::WaitForCondition(
      [&] { return Add(Client("admin-alice"), "192.0.2.15").ok(); },
      absl::Seconds(10));
  EXPECT_TRUE(granted);
  // A broken file keeps the last good policy.
  testing::WriteFile(policy, "superuser spiffe://relaysync/admin/alice\n");
  absl::SleepFor(absl::Milliseconds(1100));
  coordinator_->Reload();
  EXPECT_TRUE(Add(Client("admin-alice"), "192.0.2.16").ok());
}

TEST_F(SecurityTest, AnIdentityOverItsCallRateIsRefused) {
  Start("", RateLimit{/*per_second=*/0.01, /*burst=*/3});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Add(Client("admin-alice"), "192.0.2.20").ok()) << i;
  }
  grpc::Status s = Add(Client("admin-alice"), "192.0.2.21");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("spiffe://relaysync/admin/alice is over its limit"));
  // Another identity has a budget of its own.
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::StatusRequest req;
  v1::StatusResponse resp;
  EXPECT_TRUE(Admin(Client("reader-monitor"))->Status(&ctx, req, &resp).ok());
}

TEST_F(SecurityTest, AnIdentityMayHoldOnlySoManyStreams) {
  Start("", RateLimit{100, 1000}, /*max_streams=*/1);
  auto stub = v1::RelaySync::NewStub(
      MakeChannel(Target(), absl::Seconds(10), Client("agent-mx1")));
  grpc::ClientContext first;
  auto stream = stub->Sync(&first);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id("mx1");
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage in;
  ASSERT_TRUE(stream->Read(&in));  // the expiry policy: the stream is open
  bool snapshot = false;
  grpc::Status s = SyncAs(Client("agent-mx1"), "mx1", &snapshot);
  EXPECT_FALSE(snapshot);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("has 1 streams open already"));
  // Another agent is not affected, and the first may come back.
  EXPECT_TRUE(SyncAs(Client("agent-mx2"), "mx2", &snapshot).ok() || snapshot);
  EXPECT_TRUE(snapshot);
  first.TryCancel();
  stream->Finish();
  EXPECT_TRUE(testing::WaitForCondition(
      [&] {
        SyncAs(Client("agent-mx1"), "mx1", &snapshot);
        return snapshot;
      },
      absl::Seconds(10)));
}

// A batch of `n` logins with ids "mx1/<first>"...
v1::AgentMessage Logins(int first, int n) {
  v1::AgentMessage msg;
  for (int i = first; i < first + n; ++i) {
    v1::LoginEvent* e = msg.mutable_logins()->add_events();
    e->set_event_id(absl::StrCat("mx1/", i));
    e->set_address(absl::StrCat("192.0.2.", i));
    e->set_login_time(kNow);
  }
  return msg;
}

// Reads until a message other than state (snapshot, deltas) arrives.
bool ReadAnswer(
    grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>* stream,
    v1::CoordinatorMessage* in) {
  while (stream->Read(in)) {
    if (in->has_ack() || in->has_deferred()) return true;
  }
  return false;
}

TEST_F(SecurityTest, ABatchOverTheLoginRateIsDeferredOnAStreamThatStaysOpen) {
  Start("", RateLimit{100, 1000}, 4, /*logins=*/RateLimit{10, 10});
  grpc::ClientContext ctx;
  auto stream = SyncAsMx1(&ctx, /*accepts_deferred=*/true);
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Write(Logins(1, 10)));  // the burst
  v1::CoordinatorMessage in;
  ASSERT_TRUE(ReadAnswer(stream.get(), &in));
  ASSERT_TRUE(in.has_ack());
  EXPECT_EQ(in.ack().event_ids_size(), 10);
  ASSERT_TRUE(stream->Write(Logins(11, 5)));  // half a second too early
  ASSERT_TRUE(ReadAnswer(stream.get(), &in));
  ASSERT_TRUE(in.has_deferred()) << in.DebugString();
  EXPECT_EQ(in.deferred().event_ids_size(), 5);
  EXPECT_EQ(in.deferred().event_ids(0), "mx1/11");
  EXPECT_GT(in.deferred().retry_after_ms(), 0);
  EXPECT_LE(in.deferred().retry_after_ms(), 500);
  EXPECT_EQ(in.deferred().logins_per_second(), 10);
  EXPECT_THAT(in.deferred().reason(),
              HasSubstr("host mx1 is over its limit of 10 logins/s"));
  // Retried when told, the same batch is taken, on the same stream.
  absl::SleepFor(absl::Milliseconds(in.deferred().retry_after_ms()));
  ASSERT_TRUE(stream->Write(Logins(11, 5)));
  ASSERT_TRUE(ReadAnswer(stream.get(), &in));
  ASSERT_TRUE(in.has_ack()) << in.DebugString();
  EXPECT_EQ(in.ack().event_ids_size(), 5);
  EXPECT_EQ(Addresses().size(), 15u);
  ctx.TryCancel();
  stream->Finish();
  EXPECT_THAT(ReadFile(dir_.File("audit.log")),
              HasSubstr("over its limit of 10 logins/s"));
}

TEST_F(SecurityTest, AnAgentWithoutDeferredIsRefusedByEndingTheStream) {
  Start("", RateLimit{100, 1000}, 4, /*logins=*/RateLimit{10, 10});
  grpc::ClientContext ctx;
  auto stream = SyncAsMx1(&ctx, /*accepts_deferred=*/false);
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Write(Logins(1, 10)));
  ASSERT_TRUE(stream->Write(Logins(11, 5)));
  v1::CoordinatorMessage in;
  int acked = 0;
  while (stream->Read(&in)) {
    EXPECT_FALSE(in.has_deferred());
    acked += in.ack().event_ids_size();
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("over its limit of 10 logins/s"));
  EXPECT_LE(acked, 10);
}

TEST_F(SecurityTest, HealthPortServesHealthOnlyInPlaintext) {
  Start();
  auto channel = grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", coordinator_->health_port()),
      grpc::InsecureChannelCredentials());
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s =
        grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::AddRequest req;
  req.set_address("192.0.2.17");
  v1::AddResponse resp;
  grpc::Status s = v1::Admin::NewStub(channel)->Add(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(Addresses(), IsEmpty());
  EXPECT_EQ(ReflectionCall(channel).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(SecurityTest, ReflectionNeedsACertificate) {
  Start();
  EXPECT_EQ(ReflectionCall(grpc::CreateChannel(
                               Target(), grpc::InsecureChannelCredentials()))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // With one, the server answers (it parses our empty request as a request
  // for nothing, and does not say UNIMPLEMENTED).
  EXPECT_NE(ReflectionCall(MakeChannel(Target(), absl::Seconds(10),
                                       Client("reader-monitor")))
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace relaysync
