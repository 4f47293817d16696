// relaysync-ingest-bench: how many login events per second the coordinator
// durably merges and acknowledges. K Sync streams (each its own connection,
// posing as an agent) push LoginBatch messages of B distinct events, keeping
// at most W batches unacknowledged per stream. See bench/README.md.
#include <grpcpp/grpcpp.h>

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
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_cluster.h"
#include "common/flag_names.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT of a running coordinator; empty: start one (embedded "
          "store in the work dir)");
ABSL_FLAG(std::string, coordinator_bin, RELAYSYNC_COORDINATOR_BIN,
          "relaysync-coordinator binary, when starting one");
ABSL_FLAG(int, streams, 8, "Sync streams (fake agents), each with a host id");
ABSL_FLAG(int, batch, 500, "events per LoginBatch (1-1000)");
ABSL_FLAG(int, window, 4, "unacknowledged batches allowed per stream");
ABSL_FLAG(int, seconds, 10, "how long to send (1-3600)");
ABSL_FLAG(std::string, work_dir, "",
          "working directory (kept); default: a fresh /var/tmp/"
          "relaysync-bench.XXXXXX, removed afterwards");

namespace relaysync::bench {
namespace {

struct Config {
  std::string target;
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
      target, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::RelaySync::NewStub(channel);
  context_.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::nanoseconds(end_ns - MonoNanos()) +
                        std::chrono::seconds(30));
  stream_ = stub->Sync(&context_);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id(absl::StrCat("ingest-bench-", index_));
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

int Run(Config c) {
  absl::StatusOr<WorkDir> dir = WorkDir::Create(absl::GetFlag(FLAGS_work_dir));
  if (!dir.ok()) {
    std::fprintf(stderr, "%s\n", dir.status().ToString().c_str());
    return 1;
  }
  ChildProcess coordinator;
  if (c.target.empty()) {
    absl::StatusOr<int> port = StartCoordinator(
        &coordinator, absl::GetFlag(FLAGS_coordinator_bin),
        dir->File("coordinator-data"), dir->File("coordinator.port"),
        dir->File("coordinator.log"));
    if (!port.ok()) {
      dir->Keep();
      std::fprintf(stderr, "relaysync-ingest-bench: %s (work dir %s kept)\n",
                   port.status().ToString().c_str(), dir->path().c_str());
      return 1;
    }
    c.target = absl::StrCat("127.0.0.1:", *port);
  }
  std::vector<std::unique_ptr<IngestStream>> streams;
  for (int i = 0; i < c.streams; ++i) {
    streams.push_back(std::make_unique<IngestStream>(c, i));
  }
  const double coordinator_cpu0 = coordinator.CpuSeconds();
  const double self_cpu0 = SelfCpuSeconds();
  const int64_t start_ns = MonoNanos();
  const int64_t end_ns = start_ns + int64_t{c.seconds} * 1000000000;
  std::vector<std::thread> threads;
  for (auto& s : streams) {
    threads.emplace_back([&s, &c, end_ns] { s->Run(c.target, end_ns); });
  }
  for (std::thread& t : threads) t.join();
  const double coordinator_cpu1 = coordinator.CpuSeconds();
  const double self_cpu1 = SelfCpuSeconds();
  const double wall = (MonoNanos() - start_ns) / 1e9;

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
  std::printf(
      "  detail: sent %lld events, %lld acknowledged in all, %lld deltas "
      "received; batch ack latency %s; cpu over %.1f s: coordinator %s, "
      "bench %.0f%%\n",
      static_cast<long long>(sent), static_cast<long long>(acked),
      static_cast<long long>(deltas), FormatSummary(lat).c_str(), wall,
      coordinator_cpu0 < 0
          ? "n/a (not started here)"
          : absl::StrFormat("%.0f%%",
                            100 * (coordinator_cpu1 - coordinator_cpu0) / wall)
                .c_str(),
      100 * (self_cpu1 - self_cpu0) / wall);
  std::printf(
      "ingest streams=%d batch=%d window=%d seconds=%d acked=%lld "
      "events/s=%.0f batch-ack-p50/p99/max-ms=%.2f/%.2f/%.2f errors=%d\n",
      c.streams, c.batch, c.window, c.seconds,
      static_cast<long long>(acked_in_window),
      static_cast<double>(acked_in_window) / c.seconds, lat.p50 / 1e6,
      lat.p99 / 1e6, lat.max / 1e6, errors);
  std::fflush(stdout);
  return errors == 0 && acked_in_window > 0 ? 0 : 1;
}

}  // namespace
}  // namespace relaysync::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "relaysync-ingest-bench [--coordinator=HOST:PORT] [--streams=K] "
      "[--batch=B] [--window=W] [--seconds=S]\n\nMeasures acknowledged login "
      "events per second at the coordinator.");
  std::vector<std::string> storage;
  std::vector<char*> args =
      relaysync::DashesToUnderscores(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  relaysync::bench::Config c;
  c.target = absl::GetFlag(FLAGS_coordinator);
  c.streams = absl::GetFlag(FLAGS_streams);
  c.batch = absl::GetFlag(FLAGS_batch);
  c.window = absl::GetFlag(FLAGS_window);
  c.seconds = absl::GetFlag(FLAGS_seconds);
  if (c.streams < 1 || c.streams > 1000 || c.batch < 1 || c.batch > 1000 ||
      c.window < 1 || c.window > 1000 || c.seconds < 1 || c.seconds > 3600) {
    std::fprintf(stderr,
                 "relaysync-ingest-bench: --streams 1-1000, --batch 1-1000, "
                 "--window 1-1000, --seconds 1-3600\n");
    return 2;
  }
  return relaysync::bench::Run(c);
}
