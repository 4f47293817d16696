// relaysync-coordinator: merges login events from every agent into one
// store, expires old entries and pushes every change to every agent.
// See docs/operations.md and --help.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/flag_names.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/rate_limited_log.h"
#include "common/signals.h"
#include "coordinator/coordinator.h"
#include "coordinator/store_config.h"
#include "rpc/grpc_logging.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7300",
          "HOST:PORT to serve gRPC on ([::]:7300 or 0.0.0.0:7300 for all "
          "interfaces; port 0 picks a free port)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain) this coordinator presents; re-read when "
          "it changes");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle that signs agent, admin and reader certificates; "
          "every caller must present one (mutual TLS)");
ABSL_FLAG(bool, insecure, false,
          "serve plaintext without client certificates: anyone who reaches "
          "--listen may grant relaying to any address cluster-wide. For a "
          "test on one machine only");
ABSL_FLAG(std::string, policy, "",
          "access policy file: lines \"ROLE[,ROLE] IDENTITY\" (roles agent, "
          "admin, reader); re-read when it changes and on SIGHUP. Default: "
          "spiffe://DOMAIN/{agent,admin,reader}/NAME (docs/security.md)");
ABSL_FLAG(std::string, trust_domain, "relaysync",
          "SPIFFE trust domain of the built-in policy");
ABSL_FLAG(std::string, audit_log, "-",
          "JSON-lines audit log of admin changes and refusals: a file "
          "(reopened on SIGHUP, for logrotate) or - for stderr");
ABSL_FLAG(double, agent_login_rate, 500,
          "logins per second one agent (host id) may report, after "
          "--agent-login-burst; more is refused (RESOURCE_EXHAUSTED) and "
          "stays in the agent's spool for a later retry. 0 = no limit");
ABSL_FLAG(double, agent_login_burst, 20000,
          "logins one agent may report at once above --agent-login-rate "
          "(a storm after an outage)");
ABSL_FLAG(double, identity_call_rate, 100,
          "calls per second one identity (certificate) may make: Admin calls "
          "and Sync stream starts, after --identity-call-burst; more is "
          "refused with RESOURCE_EXHAUSTED. 0 = no limit");
ABSL_FLAG(double, identity_call_burst, 1000,
          "calls one identity may make at once above --identity-call-rate");
ABSL_FLAG(int, identity_max_streams, 4,
          "Sync streams one identity may have open at once");
ABSL_FLAG(int, user_max_addresses, 20,
          "distinct client addresses one user may have granted within "
          "--user-address-window; logins from more are not granted (a stolen "
          "password used from a botnet). 0 = no limit");
ABSL_FLAG(absl::Duration, user_address_window, absl::Minutes(10),
          "the window of --user-max-addresses");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT serving plaintext grpc.health.v1 only, for probes that "
          "cannot speak TLS (Kubernetes' grpc probe); empty: none");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT serving Prometheus metrics at /metrics over plain HTTP, "
          "without authentication: bind it to loopback or a pod IP (with a "
          "NetworkPolicy). Empty: off");
ABSL_FLAG(std::string, store, "embedded",
          "state store: embedded (Berkeley DB in --data-dir, one "
          "coordinator) or redis (shared by any number of coordinators)");
ABSL_FLAG(std::string, data_dir, "/var/lib/relaysync",
          "directory of the embedded store (created if missing)");
ABSL_FLAG(std::string, redis, "",
          "redis: HOST:PORT, or the absolute path of a unix socket");
ABSL_FLAG(std::string, redis_sentinel, "",
          "redis: sentinels HOST:PORT,... to discover the master (instead "
          "of --redis); follows failovers");
ABSL_FLAG(std::string, redis_master_name, "",
          "redis: the master's name at the sentinels");
ABSL_FLAG(std::string, redis_user, "", "redis: ACL user for AUTH");
ABSL_FLAG(std::string, redis_password, "",
          "redis: password (visible in ps: prefer --redis-password-file or "
          "the RELAYSYNC_REDIS_PASSWORD environment variable)");
ABSL_FLAG(std::string, redis_password_file, "",
          "redis: file holding the password");
ABSL_FLAG(int, redis_db, 0, "redis: database number (SELECT)");
ABSL_FLAG(std::string, redis_prefix, "relaysync",
          "redis: key prefix; coordinators sharing state use the same one");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Seconds(2),
          "redis: connect and reply timeout");
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
ABSL_FLAG(int, push_budget, 5000,
          "pushes per second to all agents together: each agent's pushes are "
          "spaced out agents / budget seconds apart, at least 2 ms, so that "
          "each carries more changes; 0 = push every change at once");
ABSL_FLAG(std::string, never_relay, "",
          "CIDR,... never granted relaying, whoever reports them (e.g. your "
          "own server networks, 127.0.0.0/8,::1), on top of the built-in "
          "unspecified, broadcast and multicast ranges; logins for them are "
          "acknowledged and dropped, Admin.Add refused");
ABSL_FLAG(int, max_streams, 1000,
          "Sync streams open at once, all agents together (also with "
          "--insecure); more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_streams_per_connection, 16,
          "calls one connection may have open at once (HTTP/2 "
          "MAX_CONCURRENT_STREAMS); a client's further calls wait");
ABSL_FLAG(int, stream_max_unsent, 10000,
          "login event ids one stream may have waiting for their "
          "acknowledgement; beyond it the coordinator stops reading that "
          "stream until the agent takes its answers (backpressure)");
ABSL_FLAG(absl::Duration, stall_timeout, absl::Seconds(60),
          "a stream whose agent has not taken a message for this long (it "
          "is not reading), or has not said hello, is ended");
ABSL_FLAG(int, max_snapshots, 4,
          "agent streams holding a full snapshot in memory at once; others "
          "needing one wait their turn");
ABSL_FLAG(absl::Duration, max_connection_idle, absl::Seconds(2),
          "a connection with no call open for this long is closed (within "
          "about twice this; each holds about 100 kB with TLS; agents and "
          "vsmtprelay make their call at once)");
ABSL_FLAG(int, grpc_memory_limit_mb, 256,
          "MiB gRPC may use for connections and calls (its resource quota): "
          "nearing it, gRPC shrinks buffers and closes idle connections. 0 = "
          "no limit");
ABSL_FLAG(bool, quiet, false, "log warnings and errors only");
ABSL_FLAG(std::string, log_encoding, "text",
          "how log lines are written to stderr: text, or json (one object a "
          "line with time, level, program, pid and message, for log "
          "shippers; docs/operations.md, \"Logs\")");
ABSL_FLAG(bool, migrate_redis, false,
          "redis: move the records of a relaysync before 2026-12 ({p}:rec) "
          "to this version's layout, then exit (0 when done or nothing to "
          "do). Once, with every coordinator stopped: docs/redis.md, "
          "Upgrading");

namespace {

// Collects the store flags; exits with status 2 on a bad combination.
relaysync::StoreConfig StoreConfigFromFlags() {
  relaysync::StoreConfig config;
  config.kind = absl::GetFlag(FLAGS_store);
  const int64_t limit = absl::GetFlag(FLAGS_change_log_limit);
  if (limit < 1) {
    relaysync::LogError("--change_log_limit must be at least 1");
    std::exit(2);
  }
  config.embedded.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.embedded.change_log_limit = static_cast<size_t>(limit);
  if (config.kind == "redis") {
    config.redis_target = absl::GetFlag(FLAGS_redis);
    config.redis_sentinels = absl::GetFlag(FLAGS_redis_sentinel);
    config.redis_password_file = absl::GetFlag(FLAGS_redis_password_file);
    config.redis.master_name = absl::GetFlag(FLAGS_redis_master_name);
    config.redis.user = absl::GetFlag(FLAGS_redis_user);
    config.redis.password = absl::GetFlag(FLAGS_redis_password);
    config.redis.db = absl::GetFlag(FLAGS_redis_db);
    config.redis.prefix = absl::GetFlag(FLAGS_redis_prefix);
    config.redis.timeout = absl::GetFlag(FLAGS_redis_timeout);
    config.redis.change_log_limit = static_cast<size_t>(limit);
    absl::Status s = relaysync::ResolveRedisConfig(
        &config, [](const std::string& name) -> std::optional<std::string> {
          const char* v = std::getenv(name.c_str());
          if (v == nullptr) return std::nullopt;
          return std::string(v);
        });
    if (!s.ok()) {
      relaysync::LogError(s.message());
      std::exit(2);
    }
  } else if (config.kind != "embedded") {
    relaysync::LogError("--store=", config.kind,
                        ": unknown store (embedded or redis)");
    std::exit(2);
  }
  return config;
}

// Writes `port` to `path` through a rename, so that a reader never sees
// half a number. Errors name the file.
absl::Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("--port-file: ", tmp, ": ", std::strerror(errno)));
  }
  out << port << "\n";
  out.close();
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("--port-file: ", tmp, ": write failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--port-file: renaming ", tmp,
                                               " to ", path, ": ",
                                               std::strerror(errno)));
  }
  return absl::OkStatus();
}

// What main shares with the signal thread and with gRPC's log callback. A
// stop signal may arrive before the coordinator exists.
struct StopState {
  absl::Mutex mu;
  relaysync::Coordinator* running ABSL_GUARDED_BY(mu) = nullptr;
  bool stop_requested ABSL_GUARDED_BY(mu) = false;
};

}  // namespace

int main(int argc, char** argv) {
  relaysync::SetFlagHelpFile("coordinator/main.cc", "relaysync-coordinator");
  absl::SetProgramUsageMessage(
      "relaysync-coordinator --listen=HOST:PORT --tls-cert=F --tls-key=F "
      "--tls-client-ca=F --store=embedded --data-dir=DIR [--expire-after=30m]\n"
      "  relaysync-coordinator ... --store=redis --redis=HOST:PORT "
      "[--redis-password-file=F]\n\n"
      "Merges POP/IMAP login events from relaysync agents and keeps every "
      "agent's relayers.db in sync. Flags may be spelled with dashes or "
      "underscores (--data-dir, --data_dir). Flags may also come from a "
      "configuration file, --flagfile=/etc/relaysync/coordinator.flags: one "
      "--flag=value a line, '#' starts a comment line; flags after it "
      "override it (example: deploy/config/coordinator.flags). See "
      "docs/operations.md.");
  relaysync::ParseFlags(argc, argv);
  relaysync::InitProcess();
  if (!relaysync::SetUpDaemonLogging("relaysync-coordinator",
                                     absl::GetFlag(FLAGS_quiet),
                                     absl::GetFlag(FLAGS_log_encoding))) {
    return 2;
  }
  const relaysync::StoreConfig store_config = StoreConfigFromFlags();
  if (absl::GetFlag(FLAGS_migrate_redis)) {
    if (store_config.kind != "redis") {
      relaysync::LogError("--migrate-redis needs --store=redis");
      return 2;
    }
    absl::StatusOr<relaysync::RedisStore::MigrationReport> report =
        relaysync::RedisStore::MigrateLayout(store_config.redis);
    if (!report.ok()) {
      relaysync::LogError(report.status().message());
      return 1;
    }
    relaysync::LogInfo(
        report->migrated
            ? absl::StrCat("migrated ", report->records, " records (",
                           report->fixed, " index entries corrected)")
            : std::string("nothing to migrate: the layout is current"));
    return 0;
  }

  StopState state;
  relaysync::RouteGrpcLogs([&](absl::string_view reason) {
    // TryLock: the stop handler holds mu while the server shuts down.
    if (!state.mu.TryLock()) return;
    if (state.running != nullptr) state.running->RefusedHandshake(reason);
    state.mu.Unlock();
  });
  relaysync::HandleStopSignals(
      [&](int sig) {
        relaysync::LogInfo("signal ", sig, ": shutting down");
        absl::MutexLock l(&state.mu);
        state.stop_requested = true;
        if (state.running != nullptr) state.running->Shutdown();
      },
      [&] {
        relaysync::LogInfo(
            "SIGHUP: re-reading the policy, reopening the "
            "audit log");
        absl::MutexLock l(&state.mu);
        if (state.running != nullptr) state.running->Reload();
      })
      .detach();

  relaysync::CoordinatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tls.ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key = absl::GetFlag(FLAGS_tls_key);
  options.tls.insecure = absl::GetFlag(FLAGS_insecure);
  if (absl::Status s = relaysync::ValidateTlsFiles(
          options.tls, {"--tls-client-ca", "--tls-cert", "--tls-key"});
      !s.ok()) {
    relaysync::LogError(s.message());
    return 2;
  }
  options.health_listen = absl::GetFlag(FLAGS_health_listen);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.authorizer.policy_file = absl::GetFlag(FLAGS_policy);
  options.authorizer.trust_domain = absl::GetFlag(FLAGS_trust_domain);
  options.audit_log = absl::GetFlag(FLAGS_audit_log);
  options.authorizer.calls.per_second = absl::GetFlag(FLAGS_identity_call_rate);
  options.authorizer.calls.burst = absl::GetFlag(FLAGS_identity_call_burst);
  options.authorizer.max_streams = absl::GetFlag(FLAGS_identity_max_streams);
  if (options.authorizer.calls.per_second < 0 ||
      options.authorizer.calls.burst < 1 ||
      options.authorizer.max_streams < 1) {
    relaysync::LogError(
        "--identity_call_rate must be >= 0, --identity_call_burst and "
        "--identity_max_streams >= 1");
    return 2;
  }
  options.user_address_limit.max_addresses =
      absl::GetFlag(FLAGS_user_max_addresses);
  options.user_address_limit.window = absl::GetFlag(FLAGS_user_address_window);
  if (options.user_address_limit.max_addresses < 0 ||
      options.user_address_limit.window < absl::Seconds(1)) {
    relaysync::LogError(
        "--user_max_addresses must be >= 0 and --user_address_window >= 1s");
    return 2;
  }
  options.agent_login_limit.per_second = absl::GetFlag(FLAGS_agent_login_rate);
  options.agent_login_limit.burst = absl::GetFlag(FLAGS_agent_login_burst);
  if (options.agent_login_limit.per_second < 0 ||
      options.agent_login_limit.burst < 1) {
    relaysync::LogError(
        "--agent_login_rate must be >= 0 and --agent_login_burst >= 1");
    return 2;
  }
  options.writer.expire_after = absl::GetFlag(FLAGS_expire_after);
  options.writer.max_clock_skew = absl::GetFlag(FLAGS_max_clock_skew);
  options.writer.forget_deleted_after =
      absl::GetFlag(FLAGS_forget_deleted_after);
  options.push_budget = absl::GetFlag(FLAGS_push_budget);
  if (options.push_budget < 0) {
    relaysync::LogError("--push_budget: must be 0 (off) or more");
    return 2;
  }
  options.sync_limits.max_streams =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_max_streams)));
  options.sync_limits.max_unsent =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_stream_max_unsent)));
  options.sync_limits.stall_timeout = absl::GetFlag(FLAGS_stall_timeout);
  options.sync_limits.max_snapshots = absl::GetFlag(FLAGS_max_snapshots);
  options.max_streams_per_connection =
      absl::GetFlag(FLAGS_max_streams_per_connection);
  options.max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  const int memory_mb = absl::GetFlag(FLAGS_grpc_memory_limit_mb);
  options.grpc_memory_bytes = static_cast<size_t>(std::max(0, memory_mb)) << 20;
  if (absl::GetFlag(FLAGS_max_streams) < 1 ||
      absl::GetFlag(FLAGS_stream_max_unsent) < 1 ||
      options.sync_limits.max_snapshots < 1 ||
      options.max_streams_per_connection < 1 || memory_mb < 0 ||
      options.sync_limits.stall_timeout < absl::Seconds(1) ||
      options.max_connection_idle < absl::Seconds(1)) {
    relaysync::LogError(
        "--max-streams, --stream-max-unsent, --max-snapshots and "
        "--max-streams-per-connection must be >= 1, --grpc-memory-limit-mb "
        ">= 0, --stall-timeout and --max-connection-idle >= 1s");
    return 2;
  }
  absl::StatusOr<relaysync::NeverRelay> never_relay =
      relaysync::NeverRelay::WithExtra(absl::GetFlag(FLAGS_never_relay),
                                       "--never-relay");
  if (!never_relay.ok()) {
    relaysync::LogError(never_relay.status().message());
    return 2;
  }
  options.never_relay = *never_relay;
  relaysync::LogInfo("never relaying ", never_relay->ToString());

  // A shared store may be down when we start: keep trying, as agents do,
  // rather than leaving it to a supervisor's restart loop.
  std::unique_ptr<relaysync::Coordinator> coordinator;
  relaysync::Backoff backoff(absl::Seconds(1), absl::Seconds(30));
  relaysync::RateLimitedLog retrying(absl::Minutes(1));
  for (;;) {
    absl::StatusOr<std::unique_ptr<relaysync::Store>> store =
        relaysync::OpenStore(store_config);
    absl::Status failure = store.status();
    if (store.ok()) {
      auto started = relaysync::Coordinator::Start(
          std::move(*store), options, relaysync::SystemClock::Get());
      if (started.ok()) {
        coordinator = std::move(*started);
        break;
      }
      failure = started.status();
    }
    if (store_config.kind != "redis" ||
        failure.code() != absl::StatusCode::kUnavailable) {
      relaysync::LogError(failure.message());
      return 1;
    }
    retrying.Log(relaysync::LogLevel::kWarning,
                 absl::StrCat(failure.message(),
                              ": check that Redis is up and reachable "
                              "(--redis); retrying with backoff, at least "
                              "every ",
                              absl::FormatDuration(backoff.max())));
    absl::MutexLock l(&state.mu);
    if (state.mu.AwaitWithTimeout(absl::Condition(&state.stop_requested),
                                  backoff.Next())) {
      return 0;
    }
  }
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    // Whoever asked for the file waits for it to learn the port: without
    // it the coordinator cannot be found, so it does not stay up unseen.
    if (absl::Status s = WritePortFile(path, coordinator->port()); !s.ok()) {
      relaysync::LogError(s.message());
      coordinator->Shutdown();
      coordinator->Wait();
      return 1;
    }
  }
  {
    absl::MutexLock l(&state.mu);
    state.running = coordinator.get();
    if (state.stop_requested) state.running->Shutdown();
  }
  coordinator->Wait();
  absl::MutexLock l(&state.mu);
  state.running = nullptr;
  return 0;
}
