#include "coordinator/coordinator.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/never_relay_gate.h"
#include "common/rate_limited_log.h"
#include "common/thread_name.h"
#include "coordinator/admin_service.h"
#include "coordinator/agent_registry.h"
#include "coordinator/change_feed.h"
#include "coordinator/change_hub.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/metered_store.h"
#include "coordinator/sync_service.h"
#include "metrics/metrics.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

// gRPC's default is 120 s: a client could hold that many half-open
// connections for two minutes each.
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(10);

// Keeps gRPC's globally registered reflection plugin off a server: the
// plaintext health port must serve grpc.health.v1 and nothing else.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    const std::string reflection =
        grpc::reflection::ProtoServerReflectionPlugin().name();
    plugins->erase(
        std::remove_if(
            plugins->begin(), plugins->end(),
            [&](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
              return p->name() == reflection;
            }),
        plugins->end());
  }
};

// Answers every method the health port does not serve. It also gives that
// server the callback queue gRPC needs before it adds its health service.
class HealthOnly : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Refusal : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port serves grpc.health.v1 only"));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal;
  }
};

void SetServing(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus("relaysync.v1.RelaySync", serving);
  health->SetServingStatus("relaysync.v1.Admin", serving);
}

}  // namespace

struct Coordinator::Impl {
  // First: the last to go, so every handle stays valid while the rest
  // stops. Null without metrics_listen.
  std::unique_ptr<metrics::Registry> metrics;
  CoordinatorMetrics counters;  // handles into `metrics`
  metrics::Gauge connected_agents;
  metrics::Gauge store_entries;
  metrics::Gauge store_version;
  std::unique_ptr<Store> store;
  CoordinatorOptions options;
  const Clock* clock;
  std::unique_ptr<ChangeHub> hub;
  std::unique_ptr<ChangeFeed> feed;  // the hub's only publisher
  std::unique_ptr<StateWriter> writer;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<Authorizer> authorizer;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<UserAddressLimit> user_limit;
  std::unique_ptr<AgentRegistry> registry;
  std::unique_ptr<NeverRelayGate> gate;
  std::unique_ptr<SyncService> sync;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<grpc::Server> server;
  HealthOnly health_only;
  std::unique_ptr<grpc::Server> health_server;  // plaintext, health only
  int port = 0;
  int health_port = 0;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::thread expirer;

  // Before each scrape: what is cheaper to read than to track.
  void UpdateGauges() {
    const std::vector<AgentInfo> agents = registry->List();
    connected_agents.Set(static_cast<double>(agents.size()));
    if (absl::StatusOr<int64_t> n = store->EntryCount(); n.ok()) {
      store_entries.Set(static_cast<double>(*n));
    }
    absl::StatusOr<uint64_t> version = store->Version();
    if (!version.ok()) return;
    store_version.Set(static_cast<double>(*version));
    // One series per connected host id (bounded: agents are authenticated
    // hosts); a host with two streams while it reconnects shows the larger.
    std::map<std::string, double> lag;
    for (const AgentInfo& a : agents) {
      const double behind =
          a.applied_version >= *version
              ? 0
              : static_cast<double>(*version - a.applied_version);
      double& v = lag[a.host_id];
      v = std::max(v, behind);
    }
    metrics->ReplaceGauges(
        "relaysync_coordinator_agent_lag_versions",
        "How many store versions each connected agent (host_id) is behind "
        "in applying the state.",
        "host_id", {lag.begin(), lag.end()});
  }

  void ExpiryLoop() {
    // A failing store is retried no sooner than the interval, and later
    // each time (up to a minute), with one line a minute at most.
    Backoff backoff(options.expire_interval,
                    std::max(options.expire_interval, absl::Minutes(1)));
    RateLimitedLog warnings(absl::Minutes(1));
    absl::MutexLock l(&mu);
    while (!stopping) {
      mu.Unlock();
      absl::Status s = writer->ExpireNow();
      absl::Duration wait = options.expire_interval;
      if (s.ok()) {
        backoff.Reset();
      } else {
        wait = std::max(wait, backoff.Next());
        warnings.Log(LogLevel::kWarning,
                     absl::StrCat("expiry: ", s.message(),
                                  ": check the store; old entries stay "
                                  "(agents still expire them) until it "
                                  "works, retrying at least every ",
                                  absl::FormatDuration(backoff.max())));
      }
      mu.Lock();
      mu.AwaitWithTimeout(absl::Condition(&stopping), wait);
    }
  }
};

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Coordinator::~Coordinator() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(
    std::unique_ptr<Store> store, const CoordinatorOptions& options,
    const Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = clock;
  impl->registry = std::make_unique<AgentRegistry>(clock);
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::Registry>> registry =
        metrics::Registry::Serve(options.metrics_listen, "--metrics-listen");
    if (!registry.ok()) return registry.status();
    impl->metrics = std::move(*registry);
    impl->counters = CoordinatorMetrics(impl->metrics.get());
    store =
        std::make_unique<MeteredStore>(std::move(store), impl->metrics.get());
  }
  absl::StatusOr<uint64_t> version = store->Version();
  if (!version.ok()) return version.status();
  absl::StatusOr<std::unique_ptr<AuditLog>> audit =
      AuditLog::Open(options.audit_log, clock);
  if (!audit.ok()) return audit.status();
  impl->audit = std::move(*audit);
  AuthorizerOptions authorizer = options.authorizer;
  authorizer.insecure = options.tls.insecure;
  absl::StatusOr<std::unique_ptr<Authorizer>> authz =
      Authorizer::Open(authorizer, impl->audit.get(), impl->counters.refusals);
  if (!authz.ok()) return authz.status();
  impl->authorizer = std::move(*authz);
  impl->limiter = std::make_unique<RateLimiter>(options.agent_login_limit);
  impl->user_limit =
      std::make_unique<UserAddressLimit>(options.user_address_limit);
  impl->store = std::move(store);
  impl->hub = std::make_unique<ChangeHub>(options.hub_capacity,
                                          impl->store->Epoch(), *version);
  impl->feed = std::make_unique<ChangeFeed>(impl->store.get(), impl->hub.get());
  impl->writer =
      std::make_unique<StateWriter>(impl->store.get(), clock, options.writer);
  impl->gate = std::make_unique<NeverRelayGate>(options.never_relay);
  impl->sync = std::make_unique<SyncService>(
      impl->store.get(), impl->hub.get(), impl->writer.get(),
      impl->registry.get(), clock, impl->authorizer.get(), impl->limiter.get(),
      impl->user_limit.get(), options.push_budget, impl->gate.get(),
      options.sync_limits, &impl->counters);
  impl->admin = std::make_unique<AdminService>(
      impl->store.get(), impl->writer.get(), impl->registry.get(), clock,
      impl->authorizer.get(), impl->gate.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, MakeServerCredentials(options.tls),
                           &impl->port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Bounds per connection. gRPC 1.51 has no cap on connections (that came
  // later as GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS): what a connection
  // holds is bounded instead. One that opens no call is closed after
  // max_connection_idle (one that never finishes its handshake after
  // kHandshakeTimeout), each has at most max_streams_per_connection calls,
  // every Sync stream counts against SyncLimits::max_streams, and the
  // quota makes gRPC shrink its buffers and close idle connections when
  // its memory runs short.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.max_streams_per_connection);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_idle)));
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kHandshakeTimeout)));
  grpc::ResourceQuota quota("relaysync-coordinator");
  if (options.grpc_memory_bytes > 0) {
    quota.Resize(options.grpc_memory_bytes);
    builder.SetResourceQuota(quota);
  }
  builder.RegisterService(impl->sync.get());
  builder.RegisterService(impl->admin.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    // Not kUnavailable: that means "the store is down, retry".
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use, or not a local address?)"));
  }
  if (!options.health_listen.empty()) {
    grpc::ServerBuilder health;
    health.SetOption(std::make_unique<WithoutReflection>());
    health.RegisterCallbackGenericService(&impl->health_only);
    health.AddListeningPort(options.health_listen,
                            grpc::InsecureServerCredentials(),
                            &impl->health_port);
    impl->health_server = health.BuildAndStart();
    if (impl->health_server == nullptr || impl->health_port == 0) {
      impl->server->Shutdown();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot listen on ", options.health_listen,
                       " (--health-listen: address in use, or not a local "
                       "address?)"));
    }
    SetServing(impl->health_server.get(), true);
  }
  SetServing(impl->server.get(), true);
  impl->feed->Start();
  if (metrics::Registry* r = impl->metrics.get(); r != nullptr) {
    impl->connected_agents =
        r->AddGauge("relaysync_coordinator_connected_agents",
                    "Agent streams open now (past their hello).");
    impl->store_entries = r->AddGauge("relaysync_coordinator_store_entries",
                                      "Entries (granted addresses) in the "
                                      "store.");
    impl->store_version =
        r->AddGauge("relaysync_coordinator_store_version",
                    "The store's version: its position in the change log.");
    r->OnScrape([p = impl.get()] { p->UpdateGauges(); });
    LogInfo("serving metrics on ", options.metrics_listen, " (port ", r->port(),
            ", /metrics, no authentication)");
  }
  impl->expirer = std::thread([p = impl.get()] {
    NameThisThread("expiry");
    p->ExpiryLoop();
  });
  if (options.tls.insecure) LogWarning(kInsecureWarning);
  LogInfo("listening on ", options.listen, " (port ", impl->port, ", ",
          options.tls.insecure ? "plaintext" : "mutual TLS", "), store ",
          impl->store->Name(), " epoch ", impl->store->Epoch(), " version ",
          *version);
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
}

int Coordinator::port() const { return impl_->port; }
int Coordinator::health_port() const { return impl_->health_port; }
int Coordinator::metrics_port() const {
  return impl_->metrics != nullptr ? impl_->metrics->port() : 0;
}

void Coordinator::RefusedHandshake(absl::string_view reason) {
  impl_->authorizer->refusals().Count(Refusal::kTlsHandshake);
  AuditRecord record;
  record.action = "tls-handshake";
  record.result = absl::StrCat("refused: ", reason);
  impl_->audit->Write(record);
}

void Coordinator::Reload() {
  impl_->authorizer->Reload();
  if (absl::Status s = impl_->audit->Reopen(); !s.ok()) {
    LogError(s.message());
  }
}

void Coordinator::Wait() {
  absl::MutexLock l(&impl_->mu);
  impl_->mu.Await(absl::Condition(&impl_->stopping));
}

void Coordinator::Shutdown() {
  {
    absl::MutexLock l(&impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  // No scrape reads the store or the agents from here on.
  if (impl_->metrics != nullptr) impl_->metrics->ClearOnScrape();
  SetServing(impl_->server.get(), false);
  if (impl_->health_server != nullptr) {
    SetServing(impl_->health_server.get(), false);
  }
  impl_->sync->Shutdown();
  impl_->server->Shutdown(std::chrono::system_clock::now() +
                          std::chrono::seconds(2));
  if (impl_->health_server != nullptr) {
    impl_->health_server->Shutdown(std::chrono::system_clock::now() +
                                   std::chrono::seconds(1));
  }
  if (impl_->expirer.joinable()) impl_->expirer.join();
  impl_->feed->Stop();
  LogInfo("stopped");
}

}  // namespace relaysync
