#include "bench/bench_store.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "backends/store/redis_connection.h"
#include "testing/wait.h"

namespace relaysync::bench {
namespace {

// The keys RedisStore keeps under `prefix` (docs/redis.md).
std::vector<std::string> StoreKeys(const std::string& prefix) {
  std::vector<std::string> keys;
  for (const char* k :
       {"rec", "by_login", "by_delete", "log", "meta", "who", "rec_v1"}) {
    keys.push_back(absl::StrCat("{", prefix, "}:", k));
  }
  return keys;
}

// Fields "name:value" of an INFO reply, "\r\n"-separated.
std::map<std::string, std::string> InfoFields(const std::string& text) {
  std::map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    const size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == absl::string_view::npos) {
      continue;
    }
    fields[std::string(line.substr(0, colon))] =
        std::string(line.substr(colon + 1));
  }
  return fields;
}

}  // namespace

BenchStore::BenchStore(BenchStoreOptions options, std::string dir)
    : options_(std::move(options)), dir_(std::move(dir)) {}

BenchStore::~BenchStore() {
  if (!redis()) return;
  if (server_ != nullptr) {
    // SIGTERM: Redis fsyncs its AOF and exits; the work dir goes later.
    server_->Stop(SIGTERM);
    return;
  }
  // An existing Redis: leave it as we found it.
  std::vector<std::string> del = {"DEL"};
  for (std::string& k : StoreKeys(prefix_)) del.push_back(std::move(k));
  if (conn_ != nullptr) conn_->Command(del).IgnoreError();
}

absl::Status CheckBenchStoreOptions(const BenchStoreOptions& options) {
  if (options.kind != "embedded" && options.kind != "redis") {
    return absl::InvalidArgumentError(
        absl::StrCat("--store=", options.kind, ": embedded or redis"));
  }
  if (options.coordinators < 1 || options.coordinators > 16) {
    return absl::InvalidArgumentError("--coordinators: 1-16");
  }
  if (options.kind == "embedded" && options.coordinators > 1) {
    return absl::InvalidArgumentError(
        "--coordinators > 1 needs --store=redis (an embedded store serves "
        "one coordinator)");
  }
  if (options.redis_fsync != "always" && options.redis_fsync != "everysec" &&
      options.redis_fsync != "no") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--redis_fsync=", options.redis_fsync, ": always, everysec or no"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BenchStore>> BenchStore::Start(
    const BenchStoreOptions& options, const testing::ScratchDir& dir) {
  absl::Status s = CheckBenchStoreOptions(options);
  if (!s.ok()) return s;
  std::unique_ptr<BenchStore> store(new BenchStore(options, dir.path()));
  if (!store->redis()) return store;
  if (options.redis.empty()) {
    s = store->StartRedisServer();
  } else {
    store->address_ = options.redis;
    store->prefix_ = absl::StrCat("relaysync-bench-", getpid(), "-",
                                  absl::ToUnixSeconds(absl::Now()));
    s = store->Connect();
  }
  if (!s.ok()) return s;
  return store;
}

absl::Status BenchStore::StartRedisServer() {
  // As docs/redis.md asks for relaysync (run_redis_bench.sh writes the same
  // for redis-benchmark); appendfsync is the one knob.
  testing::RedisServerOptions o;
  o.appendonly = true;
  o.appendfsync = options_.redis_fsync;
  o.server_bin = options_.redis_server_bin;
  o.dir = dir_ + "/redis";
  server_ = std::make_unique<testing::RedisServer>(o);
  absl::Status s = server_->Start();
  if (!s.ok()) return s;
  address_ = server_->address();
  return Connect();
}

absl::Status BenchStore::Connect() {
  RedisConnectionOptions o;
  o.address = address_;
  o.timeout = absl::Seconds(1);
  conn_ = std::make_unique<RedisConnection>(o);
  absl::Status last = absl::UnavailableError("not asked yet");
  testing::WaitForCondition(
      [&] {
        absl::StatusOr<RedisReply> pong = conn_->Command({"PING"});
        last = pong.status();
        if (pong.ok() && ReplyText(pong->get()) != "PONG") {
          last = absl::UnavailableError(ReplyText(pong->get()));
        }
        return last.ok();
      },
      absl::Seconds(10), absl::Milliseconds(20));
  if (last.ok()) return last;
  return absl::UnavailableError(absl::StrCat(
      "redis ", address_, " does not answer PING: ", last.ToString()));
}

std::vector<std::string> BenchStore::CoordinatorFlags(int index) const {
  if (!redis()) {
    return {"--store=embedded",
            absl::StrCat("--data-dir=", dir_, "/coordinator-", index, "-data")};
  }
  return {"--store=redis", "--redis=" + address_, "--redis-prefix=" + prefix_};
}

std::string BenchStore::Describe() const {
  if (!redis()) return "embedded";
  if (!options_.redis.empty()) {
    return absl::StrCat("redis ", address_, " (existing, prefix ", prefix_,
                        ")");
  }
  return absl::StrCat("redis ", address_,
                      " (started here, appendonly yes, appendfsync ",
                      options_.redis_fsync, ")");
}

RedisStats BenchStore::ReadStats() {
  RedisStats stats;
  if (conn_ == nullptr) return stats;
  absl::StatusOr<std::vector<RedisReply>> replies = conn_->Pipeline(
      {{"INFO", "cpu"}, {"INFO", "commandstats"}, {"INFO", "persistence"}});
  if (!replies.ok()) return stats;
  std::map<std::string, std::string> cpu =
      InfoFields(ReplyText((*replies)[0].get()));
  double user = 0, sys = 0;
  if (absl::SimpleAtod(cpu["used_cpu_user"], &user) &&
      absl::SimpleAtod(cpu["used_cpu_sys"], &sys)) {
    stats.cpu_seconds = user + sys;
  }
  if (absl::SimpleAtod(cpu["used_cpu_user_children"], &user) &&
      absl::SimpleAtod(cpu["used_cpu_sys_children"], &sys)) {
    stats.children_cpu_seconds = user + sys;
  }
  absl::SimpleAtoi(InfoFields(ReplyText((*replies)[2].get()))["aof_rewrites"],
                   &stats.aof_rewrites);
  // cmdstat_evalsha:calls=412,usec=1277,usec_per_call=3.10,...
  for (const auto& [name, value] : InfoFields(ReplyText((*replies)[1].get()))) {
    if (!absl::StartsWith(name, "cmdstat_")) continue;
    RedisStats::Command& c = stats.commands[name.substr(8)];
    for (absl::string_view kv : absl::StrSplit(value, ',')) {
      if (absl::ConsumePrefix(&kv, "calls=")) absl::SimpleAtoi(kv, &c.calls);
      if (absl::ConsumePrefix(&kv, "usec=")) absl::SimpleAtoi(kv, &c.usec);
    }
  }
  return stats;
}

std::string RedisStatsLine(const RedisStats& before, const RedisStats& after,
                           double wall, int64_t events) {
  if (before.cpu_seconds < 0 || after.cpu_seconds < 0 || wall <= 0) {
    return "redis: no figures";
  }
  struct Diff {
    std::string name;
    RedisStats::Command c;
  };
  std::vector<Diff> diffs;
  for (const auto& [name, a] : after.commands) {
    RedisStats::Command d = a;
    auto b = before.commands.find(name);
    if (b != before.commands.end()) {
      d.calls -= b->second.calls;
      d.usec -= b->second.usec;
    }
    // Our own INFO calls are not the workload.
    if (d.calls <= 0 || name == "info") continue;
    diffs.push_back({name, d});
  }
  std::sort(diffs.begin(), diffs.end(),
            [](const Diff& x, const Diff& y) { return x.c.usec > y.c.usec; });
  // A command a script (or EXEC) runs counts in its own row and again in
  // the script's (or EXEC's): the rows overlap.
  std::string line = absl::StrFormat(
      "redis: %.0f%% of one CPU, and %lld AOF rewrites in children that "
      "used %.0f%%; time inside commands (calls, ms per call, %% of one "
      "CPU%s; script-internal calls also count in evalsha/eval/exec):",
      100 * (after.cpu_seconds - before.cpu_seconds) / wall,
      static_cast<long long>(after.aof_rewrites - before.aof_rewrites),
      100 * (after.children_cpu_seconds - before.children_cpu_seconds) / wall,
      events > 0 ? ", us per event" : "");
  for (size_t i = 0; i < diffs.size() && i < 8; ++i) {
    const Diff& d = diffs[i];
    absl::StrAppendFormat(&line, "%s %s %lld %.3f %.1f", i == 0 ? "" : ",",
                          d.name.c_str(), static_cast<long long>(d.c.calls),
                          d.c.usec / 1e3 / static_cast<double>(d.c.calls),
                          100 * (d.c.usec / 1e6) / wall);
    if (events > 0) {
      absl::StrAppendFormat(&line, " %.2f",
                            static_cast<double>(d.c.usec) / events);
    }
  }
  return line;
}

}  // namespace relaysync::bench
