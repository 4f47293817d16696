// Coordinator: wires a Store to the gRPC services (RelaySync, Admin,
// grpc.health.v1, reflection) and runs the expiry loop. main.cc only parses
// flags; tests start a Coordinator in-process or as a real process.
#ifndef RELAYSYNC_COORDINATOR_COORDINATOR_H_
#define RELAYSYNC_COORDINATOR_COORDINATOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/store/store.h"
#include "common/clock.h"
#include "common/never_relay.h"
#include "coordinator/authorizer.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/state_writer.h"
#include "coordinator/sync_limits.h"
#include "coordinator/user_address_limit.h"
#include "rpc/tls.h"

namespace relaysync {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:7300";  // HOST:PORT; port 0 picks one
  // Mutual TLS on `listen` (tls.ca verifies clients), or tls.insecure.
  TlsFiles tls;
  // Plaintext grpc.health.v1 and nothing else (Kubernetes' grpc probe);
  // empty: none.
  std::string health_listen;
  // HOST:PORT serving Prometheus /metrics over plain HTTP, without
  // authentication (docs/operations.md, "Metrics"); empty: none.
  std::string metrics_listen;
  AuthorizerOptions authorizer;  // .insecure follows tls.insecure
  std::string audit_log;         // file, or empty / "-" for stderr
  RateLimit agent_login_limit;   // per host id; default: none
  // Distinct addresses one user may have granted per window.
  UserAddressLimitOptions user_address_limit;
  StateWriterOptions writer;
  size_t hub_capacity = 65536;
  // How often the expiry pass runs; bounds the overstay of an entry.
  absl::Duration expire_interval = absl::Milliseconds(250);
  // Pushes per second to all agents together above which the pushes to
  // each agent are spaced out (see SyncService); 0 = never.
  int push_budget = 5000;
  // Addresses never granted, whoever reports them: logins over Sync are
  // acknowledged and dropped, Admin.Add is refused (--never-relay).
  NeverRelay never_relay = NeverRelay::Defaults();
  // Bounds on what clients can make the coordinator hold (docs/security.md,
  // "Limits"); the same with and without TLS.
  SyncLimits sync_limits;
  int max_streams_per_connection = 16;  // HTTP/2 MAX_CONCURRENT_STREAMS
  // A connection without a call for this long is closed (GOAWAY).
  absl::Duration max_connection_idle = absl::Seconds(2);
  // Memory gRPC may take for connections and calls (its ResourceQuota);
  // 0: unlimited.
  size_t grpc_memory_bytes = size_t{256} << 20;
};

class Coordinator {
 public:
  // Starts serving. `clock` is not owned and must outlive the coordinator.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(
      std::unique_ptr<Store> store, const CoordinatorOptions& options,
      const Clock* clock);
  ~Coordinator();

  // The ports actually bound (useful with port 0); health_port() is 0
  // without health_listen.
  int port() const;
  int health_port() const;
  // The port serving /metrics, or 0 without metrics_listen.
  int metrics_port() const;
  // SIGHUP: re-reads the policy file and reopens the audit log.
  void Reload();
  // Audits a TLS handshake refused by gRPC (see RouteGrpcLogs).
  void RefusedHandshake(absl::string_view reason);
  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Stops accepting, ends agent streams, stops the expiry loop. Idempotent.
  void Shutdown();

 private:
  struct Impl;
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_COORDINATOR_H_
