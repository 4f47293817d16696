// Coordinator: wires a Store to the gRPC services (RelaySync, Admin,
// grpc.health.v1, reflection) and runs the expiry loop. main.cc only parses
// flags; tests start a Coordinator in-process or as a real process.
#ifndef RELAYSYNC_COORDINATOR_COORDINATOR_H_
#define RELAYSYNC_COORDINATOR_COORDINATOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/store.h"
#include "common/clock.h"
#include "common/never_relay.h"
#include "coordinator/state_writer.h"

namespace relaysync {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:7300";  // HOST:PORT; port 0 picks one
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
};

class Coordinator {
 public:
  // Starts serving. `clock` is not owned and must outlive the coordinator.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(
      std::unique_ptr<Store> store, const CoordinatorOptions& options,
      const Clock* clock);
  ~Coordinator();

  // The port actually bound (useful with port 0).
  int port() const;
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
