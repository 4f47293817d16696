// relaysync-coordinator: merges login events from every agent into one
// store, expires old entries and pushes every change to every agent.
// See docs/operations.md and --help.
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "backends/embedded_store.h"
#include "common/flag_names.h"
#include "common/logging.h"
#include "common/signals.h"
#include "coordinator/coordinator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7300",
          "HOST:PORT to serve gRPC on ([::]:7300 or 0.0.0.0:7300 for all "
          "interfaces; port 0 picks a free port)");
ABSL_FLAG(std::string, store, "embedded",
          "state store: embedded (Berkeley DB in --data-dir)");
ABSL_FLAG(std::string, data_dir, "/var/lib/relaysync",
          "directory of the embedded store (created if missing)");
ABSL_FLAG(absl::Duration, expire_after, absl::Minutes(30),
          "remove entries whose last login is older than this; 0 = never "
          "(leave it to cron + vsmtprelay expire)");
ABSL_FLAG(absl::Duration, max_clock_skew, absl::Minutes(1),
          "agent login times further in the future are clamped to now");
ABSL_FLAG(absl::Duration, forget_deleted_after, absl::Hours(24 * 7),
          "with --expire_after=0, forget deleted addresses after this long");
ABSL_FLAG(int64_t, change_log_limit, 100000,
          "changes kept for reconnecting agents; older agents get a snapshot");
ABSL_FLAG(std::string, port_file, "",
          "write the bound port to this file once serving (for scripts)");
ABSL_FLAG(bool, quiet, false, "log warnings and errors only");

int main(int argc, char** argv) {
  relaysync::SetFlagHelpFile("coordinator/main.cc");
  absl::SetProgramUsageMessage(
      "relaysync-coordinator --listen=HOST:PORT --store=embedded "
      "--data-dir=DIR [--expire-after=30m]\n\n"
      "Merges POP/IMAP login events from relaysync agents and keeps every "
      "agent's relayers.db in sync. Flags may be spelled with dashes or "
      "underscores (--data-dir, --data_dir). See docs/operations.md.");
  std::vector<std::string> storage;
  std::vector<char*> args =
      relaysync::DashesToUnderscores(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  relaysync::SetLogProgramName("relaysync-coordinator");
  relaysync::SetLogQuiet(absl::GetFlag(FLAGS_quiet));

  const std::string store_kind = absl::GetFlag(FLAGS_store);
  if (store_kind != "embedded") {
    relaysync::LogError("--store=", store_kind,
                        ": unknown store (available: embedded)");
    return 2;
  }
  if (absl::GetFlag(FLAGS_change_log_limit) < 1) {
    relaysync::LogError("--change_log_limit must be at least 1");
    return 2;
  }
  // A stop signal may arrive before the coordinator exists.
  std::mutex mu;
  relaysync::Coordinator* running = nullptr;
  bool stop_requested = false;
  relaysync::HandleStopSignals([&](int sig) {
    relaysync::LogInfo("signal ", sig, ": shutting down");
    std::lock_guard<std::mutex> l(mu);
    stop_requested = true;
    if (running != nullptr) running->Shutdown();
  }).detach();

  relaysync::EmbeddedStoreOptions store_options;
  store_options.data_dir = absl::GetFlag(FLAGS_data_dir);
  store_options.change_log_limit =
      static_cast<size_t>(absl::GetFlag(FLAGS_change_log_limit));
  auto store = relaysync::EmbeddedStore::Open(store_options);
  if (!store.ok()) {
    relaysync::LogError(store.status().message());
    return 1;
  }

  relaysync::CoordinatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.writer.expire_after = absl::GetFlag(FLAGS_expire_after);
  options.writer.max_clock_skew = absl::GetFlag(FLAGS_max_clock_skew);
  options.writer.forget_deleted_after =
      absl::GetFlag(FLAGS_forget_deleted_after);
  auto coordinator = relaysync::Coordinator::Start(
      std::move(*store), options, relaysync::SystemClock::Get());
  if (!coordinator.ok()) {
    relaysync::LogError(coordinator.status().message());
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    std::ofstream(path + ".tmp") << (*coordinator)->port() << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  {
    std::lock_guard<std::mutex> l(mu);
    running = coordinator->get();
    if (stop_requested) running->Shutdown();
  }
  (*coordinator)->Wait();
  std::lock_guard<std::mutex> l(mu);
  running = nullptr;
  return 0;
}
