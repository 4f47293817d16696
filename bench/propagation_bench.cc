// relaysync-propagation-bench: end-to-end propagation latency of a real
// cluster on loopback. Starts C coordinators (embedded store, or one Redis
// they share) and N agents spread over them, sends logins at a fixed
// open-loop rate round-robin to the agents' notify sockets, and measures for
// each login the time until it is in EVERY agent's relayers.db. See
// bench/README.md.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/local_login.h"
#include "agent/notify_client.h"
#include "bench/bench_cluster.h"
#include "bench/bench_store.h"
#include "bench/bench_tls.h"
#include "bench/merge_observer.h"
#include "bench/presence_tracker.h"
#include "common/flag_names.h"
#include "common/process.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

ABSL_FLAG(std::string, coordinator_bin, RELAYSYNC_COORDINATOR_BIN,
          "relaysync-coordinator binary");
ABSL_FLAG(std::string, agent_bin, RELAYSYNC_AGENT_BIN,
          "relaysync-agent binary");
ABSL_FLAG(int, agents, 1, "number of agents (1-1000)");
ABSL_FLAG(int, flood_rate, 0,
          "an extra agent, \"flooder\", reports this many logins/s of its "
          "own (distinct addresses, not measured) while the others are "
          "measured; the coordinator then keeps its per-agent login limit "
          "(--flood-limit), so this shows how much one flooding agent delays "
          "the others. 0 = no flooder");
ABSL_FLAG(std::string, flood_limit, "500,20000",
          "with --flood-rate: the coordinators' --agent-login-rate and "
          "--agent-login-burst, RATE,BURST (the defaults of the coordinator)");
ABSL_FLAG(bool, tls, false,
          "mutual TLS between every process, with certificates made in the "
          "work dir; without it every process runs --insecure");
ABSL_FLAG(std::string, store, "embedded",
          "coordinator store: embedded (one coordinator) or redis");
ABSL_FLAG(int, coordinators, 1,
          "coordinators (1-16; more than 1 needs --store=redis); agent I's "
          "home is coordinator I mod N, listed first in its --coordinator");
ABSL_FLAG(std::string, redis, "",
          "redis: HOST:PORT of a running Redis (keys under a prefix of the "
          "benchmark's own, deleted afterwards); empty: start redis-server "
          "in the work dir on 127.0.0.1 and a free port");
ABSL_FLAG(std::string, redis_fsync, "always",
          "appendfsync of the redis-server started here: always, everysec "
          "or no (appendonly is always yes)");
ABSL_FLAG(std::string, redis_server_bin, "redis-server",
          "redis-server binary (searched in PATH)");
ABSL_FLAG(std::vector<std::string>, coordinator_flags, {},
          "extra flags for every coordinator, comma-separated (e.g. "
          "--coordinator_flags=--push-budget=4000)");
ABSL_FLAG(int, rate, 1000, "logins per second, open loop (1-1000000)");
ABSL_FLAG(int, seconds, 10, "how long to send (1-3600)");
ABSL_FLAG(int, grace_seconds, 10,
          "after the last send, wait this long for stragglers; a login still "
          "missing from a map then counts as lost");
ABSL_FLAG(std::string, work_dir, "",
          "working directory (kept); default: a fresh /var/tmp/"
          "relaysync-bench.XXXXXX, removed afterwards");

namespace relaysync::bench {
namespace {

constexpr int64_t kNanosPerSecond = 1000000000;

struct Config {
  std::string coordinator_bin;
  std::string agent_bin;
  BenchStoreOptions store;
  int agents = 1;
  bool tls = false;
  int flood_rate = 0;
  std::string flood_limit;
  std::vector<std::string> coordinator_flags;
  int rate = 1000;
  int seconds = 10;
  int grace_seconds = 10;
};

// The cluster under test; stops every process on destruction, the store
// (a redis-server started here) last.
struct Cluster {
  BenchTls tls;
  std::unique_ptr<BenchStore> store;
  std::vector<std::unique_ptr<testing::Process>> coordinators;
  std::vector<int> ports;
  std::vector<std::unique_ptr<testing::Process>> agents;
  std::vector<std::string> maps;
  std::vector<std::string> sockets;
  // With --flood-rate: an agent whose logins are not measured.
  std::unique_ptr<testing::Process> flooder;
  std::string flooder_socket;

  ~Cluster() {
    if (flooder != nullptr) flooder->Stop(SIGTERM, absl::Seconds(10));
    for (auto& a : agents) a->Signal(SIGTERM);
    for (auto& a : agents) a->Stop(SIGTERM, absl::Seconds(10));
    for (auto& co : coordinators) co->Signal(SIGTERM);
    for (auto& co : coordinators) co->Stop(SIGTERM, absl::Seconds(10));
  }
};

// The merge observer's host id (it poses as an agent).
constexpr char kObserverHost[] = "propagation-bench-observer";
// The flooding agent's (--flood-rate).
constexpr char kFlooderHost[] = "flooder";

// Agent `agent`'s --coordinator list: its home coordinator (agent mod N)
// first, then the others in order after it.
std::string CoordinatorList(const Cluster& cluster, int agent) {
  const int n = static_cast<int>(cluster.ports.size());
  std::string list;
  for (int k = 0; k < n; ++k) {
    absl::StrAppend(&list, k == 0 ? "" : ",",
                    "127.0.0.1:", cluster.ports[(agent + k) % n]);
  }
  return list;
}

absl::Status StartCluster(const Config& c, const testing::ScratchDir& dir,
                          Cluster* out) {
  absl::StatusOr<std::unique_ptr<BenchStore>> store =
      BenchStore::Start(c.store, dir);
  if (!store.ok()) return store.status();
  out->store = std::move(*store);
  std::vector<std::string> hosts = {kObserverHost, kFlooderHost};
  for (int i = 0; i < c.agents; ++i) hosts.push_back(absl::StrCat("agent", i));
  absl::StatusOr<BenchTls> tls = BenchTls::Make(c.tls, dir.File("tls"), hosts);
  if (!tls.ok()) return tls.status();
  out->tls = std::move(*tls);
  for (int k = 0; k < c.store.coordinators; ++k) {
    out->coordinators.push_back(std::make_unique<testing::Process>());
    std::vector<std::string> flags = out->store->CoordinatorFlags(k);
    for (const std::string& f : out->tls.CoordinatorFlags()) flags.push_back(f);
    // After StartCoordinator's --agent-login-rate=0: the later flag wins.
    if (c.flood_rate > 0) {
      const std::vector<std::string> limit = absl::StrSplit(c.flood_limit, ',');
      flags.push_back("--agent-login-rate=" + limit[0]);
      if (limit.size() > 1) flags.push_back("--agent-login-burst=" + limit[1]);
    }
    flags.insert(flags.end(), c.coordinator_flags.begin(),
                 c.coordinator_flags.end());
    absl::StatusOr<int> port = StartCoordinator(
        out->coordinators.back().get(), c.coordinator_bin, flags,
        dir.File(absl::StrCat("coordinator-", k, ".port")),
        dir.File(absl::StrCat("coordinator-", k, ".log")));
    if (!port.ok()) return port.status();
    out->ports.push_back(*port);
  }
  for (int i = 0; i < c.agents; ++i) {
    out->maps.push_back(dir.File(absl::StrCat("relayers-", i, ".db")));
    out->sockets.push_back(dir.File(absl::StrCat("notify-", i, ".sock")));
    out->agents.push_back(std::make_unique<testing::Process>());
    std::vector<std::string> argv = {
        c.agent_bin,
        "--coordinator=" + CoordinatorList(*out, i),
        absl::StrCat("--host-id=agent", i),
        "--db=" + out->maps.back(),
        "--spool-dir=" + dir.File(absl::StrCat("spool-", i)),
        "--notify-socket=" + out->sockets.back()};
    for (const std::string& f : out->tls.AgentFlags(absl::StrCat("agent", i))) {
      argv.push_back(f);
    }
    absl::Status s = out->agents.back()->Start(
        argv, dir.File(absl::StrCat("agent-", i, ".log")), SIGTERM);
    if (!s.ok()) return s;
  }
  if (c.flood_rate > 0) {
    out->flooder_socket = dir.File("notify-flooder.sock");
    out->flooder = std::make_unique<testing::Process>();
    std::vector<std::string> argv = {
        c.agent_bin,
        "--coordinator=" + CoordinatorList(*out, 0),
        absl::StrCat("--host-id=", kFlooderHost),
        "--db=" + dir.File("relayers-flooder.db"),
        "--spool-dir=" + dir.File("spool-flooder"),
        "--notify-socket=" + out->flooder_socket};
    for (const std::string& f : out->tls.AgentFlags(kFlooderHost)) {
      argv.push_back(f);
    }
    absl::Status s =
        out->flooder->Start(argv, dir.File("agent-flooder.log"), SIGTERM);
    if (!s.ok()) return s;
    if (!testing::WaitForCondition(
            [&] { return access(out->flooder_socket.c_str(), F_OK) == 0; },
            absl::Seconds(30))) {
      return absl::UnavailableError("the flooder agent did not start");
    }
  }
  // An agent is ready when its notify socket exists (its map exists then).
  for (int i = 0; i < c.agents; ++i) {
    if (!testing::WaitForCondition(
            [&] {
              return access(out->sockets[i].c_str(), F_OK) == 0 ||
                     !out->agents[i]->Running();
            },
            absl::Seconds(30)) ||
        !out->agents[i]->Running()) {
      return absl::UnavailableError(
          absl::StrCat("agent ", i, " did not create ", out->sockets[i],
                       " (exited, or not within 30 s); see ",
                       dir.File(absl::StrCat("agent-", i, ".log"))));
    }
  }
  return absl::OkStatus();
}

LocalLogin MakeLogin(std::string address) {
  LocalLogin login;
  login.address = std::move(address);
  login.user = "bench";
  login.protocol = LocalLogin::Protocol::kImap;
  login.source = "bench";
  return login;
}

// One probe login per agent (198.18.0.0/15, the benchmarking range), sent to
// that agent and awaited in every map: then every agent is connected both
// ways. They are the tracker's first `agents` keys.
absl::Status WaitUntilConnected(const Cluster& cluster,
                                PresenceTracker* tracker) {
  const size_t n = cluster.sockets.size();
  for (size_t i = 0; i < n; ++i) {
    std::string ip = absl::StrCat("198.18.", (i + 1) >> 8, ".", (i + 1) & 255);
    tracker->Expect(ip, MonoNanos(), static_cast<int>(i));
    absl::Status s =
        SendNotify(cluster.sockets[i], MakeLogin(ip), absl::Seconds(1));
    if (!s.ok()) return s;
  }
  if (!testing::WaitForCondition([&] { return tracker->AllSeen(n); },
                                 absl::Seconds(60))) {
    return absl::UnavailableError(
        "probe logins did not reach every map within 60 s");
  }
  return absl::OkStatus();
}

// The n-th login's address: 10.0.0.1, 10.0.0.2, ... (n < 2^24 - 1).
std::string LoginAddress(int64_t n) {
  const int64_t v = n + 1;
  return absl::StrCat("10.", (v >> 16) & 255, ".", (v >> 8) & 255, ".",
                      v & 255);
}

// Real-time priority for the sending thread, so that a saturated machine
// delays the cluster, not the load: logins arrive from the network whatever
// the MTA host is doing. Returns what it got.
std::string BoostSender() {
  struct sched_param p = {};
  p.sched_priority = 1;
  if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0) {
    return "SCHED_FIFO";
  }
  return "normal priority";
}

struct SendResult {
  int64_t sent = 0;
  int64_t errors = 0;
  int64_t max_lag_ns = 0;  // how late the sender was against its schedule
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  std::string priority;
};

// Sends rate * seconds logins at absolute times start + n / rate, so a slow
// cluster cannot slow the sender down (open loop). Runs on its own thread.
SendResult SendLogins(const Config& c, const Cluster& cluster,
                      PresenceTracker* tracker) {
  SendResult r;
  r.priority = BoostSender();
  const int64_t total = int64_t{c.rate} * c.seconds;
  const double period_ns = static_cast<double>(kNanosPerSecond) / c.rate;
  r.start_ns = MonoNanos() + 10000000;  // 10 ms from now
  // Bounded even if every send hit its timeout.
  const int64_t give_up = r.start_ns + (c.seconds + 10) * kNanosPerSecond;
  for (int64_t n = 0; n < total; ++n) {
    const int64_t at = r.start_ns + static_cast<int64_t>(n * period_ns);
    struct timespec ts = {static_cast<time_t>(at / kNanosPerSecond),
                          static_cast<long>(at % kNanosPerSecond)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) ==
           EINTR) {
    }
    const int64_t now = MonoNanos();
    if (now > give_up) break;
    r.max_lag_ns = std::max(r.max_lag_ns, now - at);
    const int agent = static_cast<int>(n % c.agents);
    std::string ip = LoginAddress(n);
    // Latency counts from the scheduled time: a sender held up by a full
    // notify queue must not hide the delay.
    tracker->Expect(ip, at, agent);
    absl::Status s =
        SendNotify(cluster.sockets[agent], MakeLogin(ip), absl::Seconds(1));
    ++r.sent;
    if (!s.ok() && ++r.errors <= 5) {
      std::fprintf(stderr, "send: %s\n", s.ToString().c_str());
    }
  }
  r.end_ns = MonoNanos();
  return r;
}

struct Report {
  std::vector<int64_t> all;     // per login: until it was in every map
  std::vector<int64_t> each;    // per (login, map)
  std::vector<int64_t> origin;  // per login: its own agent's map
  std::vector<int64_t> remote;  // per (login, other agent's map)
  std::vector<int64_t> merged;  // per login: until the coordinator published it
  // all-agents latencies by when the login was due, in up to 20 equal
  // slices of the sending time: shows whether the cluster kept up (flat) or
  // fell further behind as the run went on (rising).
  std::vector<std::vector<int64_t>> by_slice;
  int64_t lost = 0;  // logins missing from at least one map
  int64_t late = 0;  // seen everywhere, but after the grace period
};

// Skips the first `skip` keys (the probes).
Report Analyze(const PresenceTracker& tracker, size_t skip, int64_t grace_ns,
               const Config& c, const SendResult& sent) {
  Report r;
  const int slices = std::min(c.seconds, 20);
  const double slice_ns =
      static_cast<double>(c.seconds) * kNanosPerSecond / slices;
  r.by_slice.resize(slices);
  const auto& expected = tracker.expected();
  for (size_t i = skip; i < expected.size(); ++i) {
    const PresenceTracker::Expected& e = expected[i];
    if (e.merged_ns != 0) r.merged.push_back(e.merged_ns - e.sent_ns);
    int64_t worst = 0;
    bool complete = true;
    for (size_t m = 0; m < e.seen_ns.size(); ++m) {
      if (e.seen_ns[m] == 0) {
        complete = false;
        continue;
      }
      const int64_t d = e.seen_ns[m] - e.sent_ns;
      worst = std::max(worst, d);
      r.each.push_back(d);
      (static_cast<int>(m) == e.origin ? r.origin : r.remote).push_back(d);
    }
    if (!complete) {
      ++r.lost;
      continue;
    }
    if (worst > grace_ns) ++r.late;
    r.all.push_back(worst);
    const int slice = static_cast<int>((e.sent_ns - sent.start_ns) / slice_ns);
    r.by_slice[std::clamp(slice, 0, slices - 1)].push_back(worst);
  }
  return r;
}

std::string Ms(const LatencySummary& s) {
  if (s.count == 0) return "-/-/-";
  return absl::StrFormat("%.2f/%.2f/%.2f", s.p50 / 1e6, s.p99 / 1e6,
                         s.max / 1e6);
}

struct CpuSample {
  double coordinators = 0, agents = 0, self = 0;  // CPU seconds
  RedisStats redis;
  MachineStat machine;
};

CpuSample SampleCpu(const Cluster& cluster) {
  CpuSample s;
  for (const auto& co : cluster.coordinators) {
    s.coordinators += std::max(0.0, co->CpuSeconds());
  }
  for (const auto& a : cluster.agents) {
    s.agents += std::max(0.0, a->CpuSeconds());
  }
  s.self = testing::SelfCpuSeconds();
  s.redis = cluster.store->ReadStats();
  s.machine = ReadMachineStat();
  return s;
}

// CPU seconds of the store's server (0 if not known) between two samples;
// with its AOF-rewriting children if `children`.
double RedisCpu(const CpuSample& before, const CpuSample& after,
                bool children = false) {
  if (before.redis.cpu_seconds < 0 || after.redis.cpu_seconds < 0) return 0;
  return after.redis.cpu_seconds - before.redis.cpu_seconds +
         (children ? after.redis.children_cpu_seconds -
                         before.redis.children_cpu_seconds
                   : 0);
}

std::string SliceLine(Report* r) {
  std::string line;
  for (std::vector<int64_t>& slice : r->by_slice) {
    const LatencySummary s = Summarize(&slice);
    absl::StrAppend(&line, line.empty() ? "" : " ",
                    s.count == 0 ? "-" : absl::StrFormat("%.1f", s.p50 / 1e6));
  }
  return line;
}

void PrintResult(const Config& c, const Cluster& cluster,
                 const SendResult& sent, const PresenceTracker::Stats& ts,
                 Report* r, const CpuSample& before, const CpuSample& after) {
  const double wall = (sent.end_ns - sent.start_ns) / 1e9;
  auto pct = [&](double a, double b) {
    return a >= 0 && b >= 0 ? 100 * (b - a) / wall : -1;
  };
  const LatencySummary all = Summarize(&r->all), each = Summarize(&r->each);
  // CPU µs per change applied by one agent, or per change delivered to one
  // agent: every login becomes one change in each of the agents' maps.
  const double changes = static_cast<double>(sent.sent) * c.agents;
  auto per_change = [&](double seconds) {
    return changes > 0 ? 1e6 * seconds / changes : -1;
  };
  const double ours = (after.coordinators - before.coordinators) +
                      (after.agents - before.agents) +
                      (after.self - before.self) +
                      RedisCpu(before, after, /*children=*/true);
  std::printf("  store: %s; %d coordinator(s), agent I's home is I mod %d\n",
              cluster.store->Describe().c_str(), c.store.coordinators,
              c.store.coordinators);
  if (cluster.store->redis()) {
    std::printf(
        "  %s\n",
        RedisStatsLine(before.redis, after.redis, wall, sent.sent).c_str());
  }
  std::printf(
      "  detail: sent %lld (%lld send errors) in %.2f s, sender %s, max lag "
      "%.2f ms; late %lld\n"
      "  %s\n"
      "  stages: published by coordinator %s\n"
      "          in own agent's map      %s\n"
      "          in other agents' maps   %s\n"
      "  all-agents p50 ms in %zu slices of the run: %s\n"
      "  tracker: %llu rounds (%llu quiet), %llu gets (%llu errors), %.1f s "
      "inside Get\n",
      static_cast<long long>(sent.sent), static_cast<long long>(sent.errors),
      wall, sent.priority.c_str(), sent.max_lag_ns / 1e6,
      static_cast<long long>(r->late),
      MachineLine(before.machine, after.machine, ours, wall).c_str(),
      FormatSummary(Summarize(&r->merged)).c_str(),
      FormatSummary(Summarize(&r->origin)).c_str(),
      FormatSummary(Summarize(&r->remote)).c_str(), r->by_slice.size(),
      SliceLine(r).c_str(), static_cast<unsigned long long>(ts.rounds),
      static_cast<unsigned long long>(ts.quiet_rounds),
      static_cast<unsigned long long>(ts.gets),
      static_cast<unsigned long long>(ts.get_errors), ts.get_ns / 1e9);
  std::printf(
      "propagation agents=%d rate=%d/s seconds=%d sent=%lld lost=%lld "
      "all-agents-p50/p99/max-ms=%s per-agent-p50/p99/max-ms=%s "
      "cpu%%-coordinator/agents/bench=%.0f/%.0f/%.0f store=%s "
      "coordinators=%d cpu%%-redis=%.0f busy%%=%.0f "
      "cpu-us/agent-change=%.1f cpu-us/coordinator-delivery=%.2f\n",
      c.agents, c.rate, c.seconds, static_cast<long long>(sent.sent),
      static_cast<long long>(r->lost), Ms(all).c_str(), Ms(each).c_str(),
      pct(before.coordinators, after.coordinators),
      pct(before.agents, after.agents), pct(before.self, after.self),
      c.store.kind.c_str(), c.store.coordinators,
      100 * RedisCpu(before, after) / wall,
      MachineBusy(before.machine, after.machine),
      per_change(after.agents - before.agents),
      per_change(after.coordinators - before.coordinators));
  std::fflush(stdout);
}

int Run(const Config& c) {
  absl::StatusOr<testing::ScratchDir> dir = testing::ScratchDir::Create(
      absl::GetFlag(FLAGS_work_dir), "relaysync-bench.");
  if (!dir.ok()) {
    std::fprintf(stderr, "%s\n", dir.status().ToString().c_str());
    return 1;
  }
  auto cluster = std::make_unique<Cluster>();
  std::unique_ptr<PresenceTracker> tracker;
  std::unique_ptr<MergeObserver> observer;
  absl::Status s = StartCluster(c, *dir, cluster.get());
  if (s.ok()) {
    auto started = PresenceTracker::Start(cluster->maps);
    s = started.status();
    if (s.ok()) tracker = std::move(*started);
  }
  if (s.ok()) {
    observer = std::make_unique<MergeObserver>(
        absl::StrCat("127.0.0.1:", cluster->ports[0]),
        cluster->tls.Agent(kObserverHost),
        [t = tracker.get()](const std::string& a) { t->Merged(a); });
    s = observer->Start(absl::Seconds(20));
  }
  if (s.ok()) s = WaitUntilConnected(*cluster, tracker.get());
  if (!s.ok()) {
    dir->Keep();
    std::fprintf(stderr, "relaysync-propagation-bench: %s (work dir %s kept)\n",
                 s.ToString().c_str(), dir->path().c_str());
    return 1;
  }
  const CpuSample before = SampleCpu(*cluster);
  SendResult sent;
  std::atomic<bool> sending{true};
  std::atomic<int64_t> flooded{0};
  std::thread flood;
  if (c.flood_rate > 0) {
    // Open loop at --flood-rate from addresses in 172.16.0.0/12, none of
    // which is measured; it stops with the measured sender.
    flood = std::thread([&] {
      const int64_t period_ns = kNanosPerSecond / c.flood_rate;
      int64_t at = MonoNanos();
      for (int64_t n = 1; sending.load(); ++n) {
        at += period_ns;
        const int64_t wait = at - MonoNanos();
        if (wait > 0) absl::SleepFor(absl::Nanoseconds(wait));
        const std::string ip = absl::StrCat("172.", 16 + ((n >> 16) & 15), ".",
                                            (n >> 8) & 255, ".", n & 255);
        if (SendNotify(cluster->flooder_socket, MakeLogin(ip),
                       absl::Milliseconds(1))
                .ok()) {
          flooded.fetch_add(1);
        }
      }
    });
  }
  std::thread sender([&] { sent = SendLogins(c, *cluster, tracker.get()); });
  sender.join();
  sending.store(false);
  if (flood.joinable()) {
    flood.join();
    std::printf("flooder: %lld logins sent at %d/s to agent \"%s\"\n",
                static_cast<long long>(flooded.load()), c.flood_rate,
                kFlooderHost);
  }
  const CpuSample after = SampleCpu(*cluster);
  const size_t total = tracker->ExpectedCount();
  const int64_t grace_ns = int64_t{c.grace_seconds} * kNanosPerSecond;
  testing::WaitForCondition(
      [&] { return tracker->AllSeen(total); },
      absl::Nanoseconds(sent.end_ns + grace_ns - MonoNanos()),
      absl::Milliseconds(2));
  observer->Stop();
  tracker->Stop();

  Report r = Analyze(*tracker, cluster->maps.size(), grace_ns, c, sent);
  PrintResult(c, *cluster, sent, tracker->stats(), &r, before, after);
  tracker.reset();
  cluster.reset();
  return r.lost == 0 && sent.errors == 0 &&
                 sent.sent == int64_t{c.rate} * c.seconds
             ? 0
             : 1;
}

}  // namespace
}  // namespace relaysync::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "relaysync-propagation-bench [--agents=N] [--rate=LOGINS_PER_S] "
      "[--seconds=S] [--store=redis [--coordinators=C] [--redis=HOST:PORT | "
      "--redis-fsync=always|everysec|no]]\n\nMeasures how long a login takes "
      "to reach every "
      "agent's relayers.db in a cluster of real processes on loopback.");
  relaysync::ParseFlags(argc, argv);
  relaysync::InitProcess();
  relaysync::bench::Config c;
  c.coordinator_bin = absl::GetFlag(FLAGS_coordinator_bin);
  c.agent_bin = absl::GetFlag(FLAGS_agent_bin);
  c.store.kind = absl::GetFlag(FLAGS_store);
  c.store.coordinators = absl::GetFlag(FLAGS_coordinators);
  c.store.redis = absl::GetFlag(FLAGS_redis);
  c.store.redis_fsync = absl::GetFlag(FLAGS_redis_fsync);
  c.store.redis_server_bin = absl::GetFlag(FLAGS_redis_server_bin);
  c.agents = absl::GetFlag(FLAGS_agents);
  c.tls = absl::GetFlag(FLAGS_tls);
  c.flood_rate = absl::GetFlag(FLAGS_flood_rate);
  c.flood_limit = absl::GetFlag(FLAGS_flood_limit);
  c.coordinator_flags = absl::GetFlag(FLAGS_coordinator_flags);
  if (c.flood_rate < 0 || c.flood_rate > 1000000) {
    std::fprintf(stderr,
                 "relaysync-propagation-bench: --flood-rate 0-1000000\n");
    return 2;
  }
  c.rate = absl::GetFlag(FLAGS_rate);
  c.seconds = absl::GetFlag(FLAGS_seconds);
  c.grace_seconds = absl::GetFlag(FLAGS_grace_seconds);
  if (c.agents < 1 || c.agents > 1000 || c.rate < 1 || c.rate > 1000000 ||
      c.seconds < 1 || c.seconds > 3600 || c.grace_seconds < 0 ||
      c.grace_seconds > 600 ||
      int64_t{c.rate} * c.seconds >= (int64_t{1} << 24) - 1) {
    std::fprintf(stderr,
                 "relaysync-propagation-bench: --agents 1-1000, --rate "
                 "1-1000000, --seconds 1-3600, --grace_seconds 0-600, and "
                 "rate * seconds < 16777215\n");
    return 2;
  }
  if (absl::Status s = relaysync::bench::CheckBenchStoreOptions(c.store);
      !s.ok()) {
    std::fprintf(stderr, "relaysync-propagation-bench: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  return relaysync::bench::Run(c);
}
