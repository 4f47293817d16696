// The store behind the coordinators a cluster benchmark starts: each its own
// embedded store, or one Redis they share (a redis-server started here on
// loopback, or an existing one). Also reads Redis's own CPU and per-command
// time, so that a benchmark can say where the store's time went.
#ifndef RELAYSYNC_BENCH_BENCH_STORE_H_
#define RELAYSYNC_BENCH_BENCH_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "testing/redis_server.h"
#include "testing/scratch_dir.h"

namespace relaysync {
class RedisConnection;
}

namespace relaysync::bench {

struct BenchStoreOptions {
  std::string kind = "embedded";  // "embedded" or "redis"
  // redis: HOST:PORT of a running Redis; empty: start redis-server.
  std::string redis;
  // redis-server started here: its appendfsync (always, everysec or no).
  std::string redis_fsync = "always";
  std::string redis_server_bin = "redis-server";
  int coordinators = 1;  // more than one needs redis
};

// InvalidArgument naming the bad flag (--store, --coordinators,
// --redis_fsync), for a benchmark's main to check before it starts.
absl::Status CheckBenchStoreOptions(const BenchStoreOptions& options);

// Redis's counters at one moment (INFO cpu, persistence, commandstats).
struct RedisStats {
  double cpu_seconds = -1;  // used_cpu_user + used_cpu_sys; -1 = unknown
  // Its children (AOF rewrites) that have exited: used_cpu_*_children.
  double children_cpu_seconds = 0;
  int64_t aof_rewrites = 0;  // INFO persistence: rewrites since start
  struct Command {
    int64_t calls = 0;
    int64_t usec = 0;  // inside the command (a script's whole run for EVAL*)
  };
  std::map<std::string, Command> commands;  // by name, e.g. "evalsha"
};

// Not thread-safe. Destruction stops a redis-server started here (the work
// directory holds its files) and removes the benchmark's keys from an
// existing Redis.
class BenchStore {
 public:
  // Checks the options and, for redis without an address, starts
  // redis-server (testing::RedisServer) in dir/redis (config, log and data
  // there) on 127.0.0.1 and a free port, and waits (10 s at most) until it
  // answers. On an existing Redis the coordinators use a key prefix of
  // their own, relaysync-bench-PID-T.
  static absl::StatusOr<std::unique_ptr<BenchStore>> Start(
      const BenchStoreOptions& options, const testing::ScratchDir& dir);
  ~BenchStore();
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  bool redis() const { return options_.kind == "redis"; }
  // relaysync-coordinator's store flags for coordinator `index`.
  std::vector<std::string> CoordinatorFlags(int index) const;
  // "embedded", or "redis 127.0.0.1:PORT (started here, appendonly yes,
  // appendfsync always)".
  std::string Describe() const;
  // Redis's counters now; cpu_seconds -1 (and no commands) for the
  // embedded store or when Redis cannot be asked.
  RedisStats ReadStats();

 private:
  BenchStore(BenchStoreOptions options, std::string dir);
  absl::Status StartRedisServer();
  absl::Status Connect();

  const BenchStoreOptions options_;
  const std::string dir_;  // the work directory
  std::string address_;    // redis: HOST:PORT
  std::string prefix_ = "relaysync";
  std::unique_ptr<testing::RedisServer> server_;  // if started here
  std::unique_ptr<RedisConnection> conn_;
};

// "redis: 87% of one CPU; time inside commands (...): evalsha 412 3.100
// 25.5 12.80, ..." for the change between two snapshots over `wall`
// seconds, the 8 commands that took longest; `events` (> 0) adds a column
// of microseconds per event.
std::string RedisStatsLine(const RedisStats& before, const RedisStats& after,
                           double wall, int64_t events);

}  // namespace relaysync::bench

#endif  // RELAYSYNC_BENCH_BENCH_STORE_H_
