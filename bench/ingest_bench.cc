// relaysync-ingest-bench: how many login events per second the coordinators
// durably merge and acknowledge. K Sync streams (each its own connection,
// posing as an agent, spread round-robin over the coordinators) push
// LoginBatch messages of B distinct events, keeping at most W batches
// unacknowledged per stream. The coordinators are started here (embedded
// store, or C of them on one Redis) or given. See bench/README.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/bench_cluster.h"
#include "bench/bench_store.h"
#include "bench/bench_tls.h"
#include "common/flag_names.h"
#include "common/process.h"
#include "proto/relaysync/v1/limits.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT[,HOST:PORT...] of running coordinators; empty: start "
          "--coordinators of them on --store");
ABSL_FLAG(std::string, store, "embedded",
          "store of the coordinators started here: embedded (one "
          "coordinator, in the work dir) or redis");
ABSL_FLAG(int, coordinators, 1,
          "coordinators to start (1-16; more than 1 needs --store=redis)");
ABSL_FLAG(std::string, redis, "",
          "redis: HOST:PORT of a running Redis (keys under a prefix of the "
          "benchmark's own, deleted afterwards); empty: start redis-server "
          "in the work dir on 127.0.0.1 and a free port");
ABSL_FLAG(std::string, redis_fsync, "always",
          "appendfsync of the redis-server started here: always, everysec "
          "or no (appendonly is always yes)");
ABSL_FLAG(std::string, redis_server_bin, "redis-server",
          "redis-server binary (searched in PATH)");
ABSL_FLAG(std::string, coordinator_bin, RELAYSYNC_COORDINATOR_BIN,
          "relaysync-coordinator binary, when starting one");
ABSL_FLAG(int, streams, 8, "Sync streams (fake agents), each with a host id");
ABSL_FLAG(bool, tls, false,
          "mutual TLS to the coordinators started here, with certificates "
          "made in the work dir; without it they run --insecure");
ABSL_FLAG(int, batch, 500, "events per LoginBatch (1-1000)");
ABSL_FLAG(int, window, 4, "unacknowledged batches allowed per stream");
ABSL_FLAG(int, seconds, 10, "how long to send (1-3600)");
ABSL_FLAG(std::string, work_dir, "",
          "working directory (kept); default: a fresh /var/tmp/"
          "relaysync-bench.XXXXXX, removed afterwards");

namespace relaysync::bench {
namespace {

struct Config {
  std::vector<std::string> targets;  // given, or filled in once started
  BenchStoreOptions store;
  BenchTls tls;  // made once the work dir exists
  bool use_tls = false;
  int streams = 8;
  int batch = 500;
  int window = 4;
  int seconds = 10;
};

// Hands out distinct addresses across all streams: 10.0.0.1, 10.0.0.2, ...
// (wrapping after 2^24 - 1, far beyond any run's reach).
std::atomic<int64_t> next_address{0};

std::string NextAddress() {
  const int64_t v = next_address.fetch_add(1) % ((int64_t{1} << 24) - 1) + 1;
  return absl::StrCat("10.", (v >> 16) & 255, ".", (v >> 8) & 255, ".",
                      v & 255);
}

// One fake agent: a writer (the calling thread) and a reader thread.
class IngestStream {
 public:
  IngestStream(const Config& c, int index) : c_(c), index_(index) {}

  // Sends until `end_ns`, then waits (10 s at most) for the last acks.
  void Run(const std::string& target, int64_t end_ns);

  std::string HostId() const { return absl::StrCat("ingest-bench-", index_); }
  int64_t acked_in_window() const { return acked_in_window_; }
  int64_t acked() const { return acked_; }
  int64_t sent() const { return sent_; }
  int64_t deltas() const { return deltas_; }
  std::vector<int64_t>& ack_latencies() { return ack_latencies_; }
  const std::string& error() const { return error_; }

 private:
  struct InFlight {
    int64_t sent_ns;
    int64_t end;  // events sent including this batch
  };
  void ReadLoop(int64_t end_ns);
  void FillBatch(int64_t now_s, v1::AgentMessage* msg);

  const Config c_;
  const int index_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
      stream_;
  int64_t next_seq_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<InFlight> in_flight_;      // guarded by mu_
  int64_t sent_ = 0;                    // guarded by mu_
  int64_t acked_ = 0;                   // guarded by mu_
  int64_t acked_in_window_ = 0;         // reader only
  int64_t deltas_ = 0;                  // reader only
  bool reader_done_ = false;            // guarded by mu_
  std::vector<int64_t> ack_latencies_;  // per batch; reader only
  std::string error_;
};

void IngestStream::FillBatch(int64_t now_s, v1::AgentMessage* msg) {
  v1::LoginBatch* batch = msg->mutable_logins();
  for (int i = 0; i < c_.batch; ++i) {
    v1::LoginEvent* e = batch->add_events();
    e->set_event_id(absl::StrCat("ingest-bench-", index_, "/", next_seq_++));
    e->set_address(NextAddress());
    e->set_login_time(now_s);
    e->set_user("bench");
    e->set_protocol(v1::LOGIN_PROTOCOL_IMAP);
    e->set_source("bench");
  }
}

void IngestStream::Run(const std::string& target, int64_t end_ns) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A connection of its own, as a separate agent process would have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(
      target, MakeChannelCredentials(c_.tls.Agent(HostId())), args);
  auto stub = v1::RelaySync::NewStub(channel);
  context_.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::nanoseconds(end_ns - MonoNanos()) +
                        std::chrono::seconds(30));
  stream_ = stub->Sync(&context_);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id(HostId());
  hello.mutable_hello()->set_agent_version("relaysync-ingest-bench");
  if (!stream_->Write(hello)) {
    error_ = stream_->Finish().error_message();
    return;
  }
  std::thread reader([this, end_ns] { ReadLoop(end_ns); });
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::milliseconds(100), [this] {
        return reader_done_ ||
               in_flight_.size() < static_cast<size_t>(c_.window);
      });
      if (reader_done_ || MonoNanos() >= end_ns) break;
      if (in_flight_.size() >= static_cast<size_t>(c_.window)) continue;
    }
    v1::AgentMessage msg;
    FillBatch(absl::ToUnixSeconds(absl::Now()), &msg);
    {
      std::lock_guard<std::mutex> l(mu_);
      sent_ += c_.batch;
      in_flight_.push_back(InFlight{MonoNanos(), sent_});
    }
    if (!stream_->Write(msg)) break;
  }
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::seconds(10),
                 [this] { return reader_done_ || in_flight_.empty(); });
  }
  context_.TryCancel();
  reader.join();
  grpc::Status s = stream_->Finish();
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
    error_ = s.error_message();
  }
}

void IngestStream::ReadLoop(int64_t end_ns) {
  v1::CoordinatorMessage msg;
  while (stream_->Read(&msg)) {
    if (msg.has_deltas()) deltas_ += msg.deltas().deltas_size();
    if (!msg.has_ack()) continue;
    const int64_t now = MonoNanos();
    const int64_t n = msg.ack().event_ids_size();
    if (now <= end_ns) acked_in_window_ += n;
    std::lock_guard<std::mutex> l(mu_);
    acked_ += n;
    // Acks come in batch order, so they complete a prefix of the batches.
    while (!in_flight_.empty() && in_flight_.front().end <= acked_) {
      ack_latencies_.push_back(now - in_flight_.front().sent_ns);
      in_flight_.pop_front();
    }
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> l(mu_);
  reader_done_ = true;
  cv_.notify_all();
}

// The coordinators started here (none with --coordinator) and their store;
// stops them on destruction, the store last.
struct Cluster {
  std::unique_ptr<BenchStore> store;
  std::vector<std::unique_ptr<testing::Process>> coordinators;

  ~Cluster() {
    for (auto& co : coordinators) co->Signal(SIGTERM);
    for (auto& co : coordinators) co->Stop(SIGTERM, absl::Seconds(10));
  }
};

absl::Status StartCluster(Config* c, const testing::ScratchDir& dir,
                          Cluster* out) {
  absl::StatusOr<std::unique_ptr<BenchStore>> store =
      BenchStore::Start(c->store, dir);
  if (!store.ok()) return store.status();
  out->store = std::move(*store);
  std::vector<std::string> hosts;
  for (int i = 0; i < c->streams; ++i) {
    hosts.push_back(absl::StrCat("ingest-bench-", i));
  }
  absl::StatusOr<BenchTls> tls =
      BenchTls::Make(c->use_tls, dir.File("tls"), hosts);
  if (!tls.ok()) return tls.status();
  c->tls = std::move(*tls);
  for (int k = 0; k < c->store.coordinators; ++k) {
    out->coordinators.push_back(std::make_unique<testing::Process>());
    std::vector<std::string> flags = out->store->CoordinatorFlags(k);
    for (const std::string& f : c->tls.CoordinatorFlags()) flags.push_back(f);
    absl::StatusOr<int> port = StartCoordinator(
        out->coordinators.back().get(), absl::GetFlag(FLAGS_coordinator_bin),
        flags, dir.File(absl::StrCat("coordinator-", k, ".port")),
        dir.File(absl::StrCat("coordinator-", k, ".log")));
    if (!port.ok()) return port.status();
    c->targets.push_back(absl::StrCat("127.0.0.1:", *port));
  }
  return absl::OkStatus();
}

// CPU seconds of the processes the benchmark can see, at one moment.
struct CpuSample {
  std::vector<double> coordinators;  // -1 each when not started here
  double self = 0;
  RedisStats redis;
  MachineStat machine;
};

CpuSample SampleCpu(const Cluster& cluster) {
  CpuSample s;
  for (const auto& co : cluster.coordinators) {
    s.coordinators.push_back(co->CpuSeconds());
  }
  s.self = testing::SelfCpuSeconds();
  if (cluster.store != nullptr) s.redis = cluster.store->ReadStats();
  s.machine = ReadMachineStat();
  return s;
}

// "62% (31+31)" for the coordinators together and each; "n/a" if none.
std::string CoordinatorCpu(const CpuSample& a, const CpuSample& b, double wall,
                           double* total_seconds) {
  *total_seconds = 0;
  std::string each;
  for (size_t k = 0; k < a.coordinators.size(); ++k) {
    const double d = std::max(0.0, b.coordinators[k] - a.coordinators[k]);
    *total_seconds += d;
    absl::StrAppendFormat(&each, "%s%.0f", k == 0 ? "" : "+", 100 * d / wall);
  }
  if (a.coordinators.empty()) return "n/a (not started here)";
  return absl::StrFormat("%.0f%% (%s)", 100 * *total_seconds / wall, each);
}

int Run(Config c) {
  absl::StatusOr<testing::ScratchDir> dir = testing::ScratchDir::Create(
      absl::GetFlag(FLAGS_work_dir), "relaysync-bench.");
  if (!dir.ok()) {
    std::fprintf(stderr, "%s\n", dir.status().ToString().c_str());
    return 1;
  }
  Cluster cluster;
  if (c.targets.empty()) {
    absl::Status s = StartCluster(&c, *dir, &cluster);
    if (!s.ok()) {
      dir->Keep();
      std::fprintf(stderr, "relaysync-ingest-bench: %s (work dir %s kept)\n",
                   s.ToString().c_str(), dir->path().c_str());
      return 1;
    }
  }
  std::vector<std::unique_ptr<IngestStream>> streams;
  for (int i = 0; i < c.streams; ++i) {
    streams.push_back(std::make_unique<IngestStream>(c, i));
  }
  const CpuSample before = SampleCpu(cluster);
  const int64_t start_ns = MonoNanos();
  const int64_t end_ns = start_ns + int64_t{c.seconds} * 1000000000;
  std::vector<std::thread> threads;
  for (int i = 0; i < c.streams; ++i) {
    const std::string& target = c.targets[i % c.targets.size()];
    threads.emplace_back(
        [s = streams[i].get(), &target, end_ns] { s->Run(target, end_ns); });
  }
  // CPU over the sending window, the one events/s counts.
  absl::SleepFor(absl::Nanoseconds(end_ns - MonoNanos()));
  const CpuSample after = SampleCpu(cluster);
  const double wall = (MonoNanos() - start_ns) / 1e9;
  for (std::thread& t : threads) t.join();

  int64_t acked_in_window = 0, acked = 0, sent = 0, deltas = 0;
  std::vector<int64_t> latencies;
  int errors = 0;
  for (auto& s : streams) {
    acked_in_window += s->acked_in_window();
    acked += s->acked();
    sent += s->sent();
    deltas += s->deltas();
    latencies.insert(latencies.end(), s->ack_latencies().begin(),
                     s->ack_latencies().end());
    if (!s->error().empty()) {
      ++errors;
      std::fprintf(stderr, "stream: %s\n", s->error().c_str());
    }
  }
  const LatencySummary lat = Summarize(&latencies);
  double coordinator_seconds = 0;
  const std::string coordinator_cpu =
      CoordinatorCpu(before, after, wall, &coordinator_seconds);
  const double self_seconds = after.self - before.self;
  const bool redis_known =
      before.redis.cpu_seconds >= 0 && after.redis.cpu_seconds >= 0;
  const double redis_seconds =
      redis_known ? after.redis.cpu_seconds - before.redis.cpu_seconds : 0;
  if (cluster.store != nullptr) {
    std::printf(
        "  store: %s; %zu coordinator(s), stream K on coordinator K "
        "mod %zu\n",
        cluster.store->Describe().c_str(), c.targets.size(), c.targets.size());
    if (cluster.store->redis()) {
      std::printf("  %s\n", RedisStatsLine(before.redis, after.redis, wall,
                                           acked_in_window)
                                .c_str());
    }
  }
  std::printf(
      "  detail: sent %lld events, %lld acknowledged in all, %lld deltas "
      "received; batch ack latency %s; cpu over the %.1f s of sending: "
      "coordinators %s, redis %s, bench %.0f%%\n"
      "  %s\n",
      static_cast<long long>(sent), static_cast<long long>(acked),
      static_cast<long long>(deltas), FormatSummary(lat).c_str(), wall,
      coordinator_cpu.c_str(),
      redis_known
          ? absl::StrFormat("%.0f%%", 100 * redis_seconds / wall).c_str()
          : "n/a",
      100 * self_seconds / wall,
      MachineLine(before.machine, after.machine,
                  coordinator_seconds + self_seconds + redis_seconds +
                      (redis_known ? after.redis.children_cpu_seconds -
                                         before.redis.children_cpu_seconds
                                   : 0),
                  wall)
          .c_str());
  std::printf(
      "ingest streams=%d batch=%d window=%d seconds=%d acked=%lld "
      "events/s=%.0f batch-ack-p50/p99/max-ms=%.2f/%.2f/%.2f errors=%d "
      "store=%s coordinators=%zu cpu%%-coordinators/redis/bench=%.0f/%.0f/%.0f"
      " cpu-us/event-coordinators=%.2f\n",
      c.streams, c.batch, c.window, c.seconds,
      static_cast<long long>(acked_in_window),
      static_cast<double>(acked_in_window) / c.seconds, lat.p50 / 1e6,
      lat.p99 / 1e6, lat.max / 1e6, errors,
      cluster.store != nullptr ? c.store.kind.c_str() : "given",
      c.targets.size(), 100 * coordinator_seconds / wall,
      100 * redis_seconds / wall, 100 * self_seconds / wall,
      acked_in_window > 0 ? 1e6 * coordinator_seconds * c.seconds / wall /
                                static_cast<double>(acked_in_window)
                          : -1.0);
  std::fflush(stdout);
  return errors == 0 && acked_in_window > 0 ? 0 : 1;
}

}  // namespace
}  // namespace relaysync::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "relaysync-ingest-bench [--coordinator=HOST:PORT,... | --store=redis "
      "[--coordinators=C] [--redis=HOST:PORT | --redis-fsync=always|everysec|"
      "no]] [--streams=K] [--batch=B] [--window=W] [--seconds=S]\n\n"
      "Measures acknowledged login events per second at the coordinators.");
  relaysync::ParseFlags(argc, argv);
  relaysync::InitProcess();
  relaysync::bench::Config c;
  const std::string given = absl::GetFlag(FLAGS_coordinator);
  if (!given.empty()) {
    c.targets = absl::StrSplit(given, ',', absl::SkipEmpty());
  }
  c.store.kind = absl::GetFlag(FLAGS_store);
  c.store.coordinators = absl::GetFlag(FLAGS_coordinators);
  c.store.redis = absl::GetFlag(FLAGS_redis);
  c.store.redis_fsync = absl::GetFlag(FLAGS_redis_fsync);
  c.store.redis_server_bin = absl::GetFlag(FLAGS_redis_server_bin);
  c.streams = absl::GetFlag(FLAGS_streams);
  c.use_tls = absl::GetFlag(FLAGS_tls);
  c.batch = absl::GetFlag(FLAGS_batch);
  c.window = absl::GetFlag(FLAGS_window);
  c.seconds = absl::GetFlag(FLAGS_seconds);
  if (c.streams < 1 || c.streams > 1000 || c.batch < 1 ||
      c.batch > static_cast<int>(relaysync::kMaxLoginsPerBatch) ||
      c.window < 1 || c.window > 1000 || c.seconds < 1 || c.seconds > 3600) {
    std::fprintf(stderr,
                 "relaysync-ingest-bench: --streams 1-1000, --batch 1-%zu, "
                 "--window 1-1000, --seconds 1-3600\n",
                 relaysync::kMaxLoginsPerBatch);
    return 2;
  }
  absl::Status s = relaysync::bench::CheckBenchStoreOptions(c.store);
  if (s.ok() && !given.empty() &&
      (c.store.kind != "embedded" || c.store.coordinators != 1 ||
       !c.store.redis.empty())) {
    s = absl::InvalidArgumentError(
        "--coordinator (use running ones) excludes --store, --coordinators "
        "and --redis (start them here)");
  }
  if (s.ok() && !given.empty() && c.use_tls) {
    s = absl::InvalidArgumentError(
        "--tls works with the coordinators started here, not --coordinator");
  }
  if (!s.ok()) {
    std::fprintf(stderr, "relaysync-ingest-bench: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  return relaysync::bench::Run(c);
}
