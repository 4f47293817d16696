// relaysync-grpc-floor-bench: what one pushed message costs gRPC itself on
// this machine, with nothing of relaysync around it (issue 13's floor).
//
// A server in this process pushes DeltaBatch messages of --deltas changes
// on the real Sync method, --rate per second to each of --clients client
// processes (this binary again, --role=client) over loopback TCP, one
// write in flight per stream as the coordinator does. Each client only
// reads and counts, with the receive loop named by --client:
//   sync      a thread blocked in ClientReaderWriter::Read, as the agent's
//             SyncSession does today;
//   callback  a ClientBidiReactor, OnReadDone starting the next read;
//   async     a CompletionQueue that one thread drains with Next().
// It prints the clients' CPU per message received, and the server's CPU
// over an equally long window per message received: the least a change can cost
// an agent and a coordinator when it travels in messages of that size at that
// rate.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "relaysync/v1/relaysync.grpc.pb.h"

ABSL_FLAG(int, clients, 8, "client processes, one stream each");
ABSL_FLAG(double, rate, 500, "messages per second pushed to each client");
ABSL_FLAG(int, deltas, 2, "changes in each message");
ABSL_FLAG(double, seconds, 10, "measured seconds (after a 1 s warm-up)");
ABSL_FLAG(std::string, client, "sync", "receive loop: sync, callback, async");
ABSL_FLAG(std::string, role, "server", "internal: server or client");
ABSL_FLAG(std::string, target, "", "internal: the server (client role)");

namespace relaysync::bench {
namespace {

using v1::AgentMessage;
using v1::CoordinatorMessage;

double CpuSeconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- server ----

class Pusher;

class PushStream final
    : public grpc::ServerBidiReactor<AgentMessage, CoordinatorMessage> {
 public:
  explicit PushStream(Pusher* pusher) : pusher_(pusher) { StartRead(&in_); }
  // Starts a write of `deltas` changes unless one is in flight.
  void TryPush(int deltas, uint64_t* version);
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  Pusher* const pusher_;
  AgentMessage in_;
  CoordinatorMessage out_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
};

// The streams that said hello, and the thread that pushes to them.
class Pusher final : public v1::RelaySync::CallbackService {
 public:
  grpc::ServerBidiReactor<AgentMessage, CoordinatorMessage>* Sync(
      grpc::CallbackServerContext*) override {
    return new PushStream(this);
  }
  void Add(PushStream* s) {
    absl::MutexLock l(&mu_);
    streams_.push_back(s);
  }
  void Remove(PushStream* s) {
    absl::MutexLock l(&mu_);
    streams_.erase(std::remove(streams_.begin(), streams_.end(), s),
                   streams_.end());
  }
  // One round: a message to every stream without a write in flight.
  void Round(int deltas) {
    absl::MutexLock l(&mu_);
    for (PushStream* s : streams_) s->TryPush(deltas, &version_);
  }

 private:
  absl::Mutex mu_;
  std::vector<PushStream*> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

void PushStream::TryPush(int deltas, uint64_t* version) {
  absl::MutexLock l(&mu_);
  if (writing_ || ending_) return;
  out_.Clear();
  v1::DeltaBatch* batch = out_.mutable_deltas();
  batch->set_store_epoch("0123456789abcdef");
  for (int i = 0; i < deltas; ++i) {
    v1::Delta* d = batch->add_deltas();
    const uint64_t v = ++*version;
    d->set_version(v);
    d->set_address(absl::StrCat("10.", (v >> 16) & 255, ".", (v >> 8) & 255,
                                ".", v & 255));
    d->set_ticks(1700000000 + static_cast<int64_t>(v));
  }
  writing_ = true;
  StartWrite(&out_);
}

void PushStream::OnReadDone(bool ok) {
  if (ok) {
    pusher_->Add(this);  // the hello; nothing else is read
    return;
  }
  absl::MutexLock l(&mu_);
  ending_ = true;
  if (!writing_) Finish(grpc::Status::OK);
}

void PushStream::OnWriteDone(bool ok) {
  absl::MutexLock l(&mu_);
  writing_ = false;
  if (!ok) ending_ = true;
  if (ending_) Finish(grpc::Status::OK);
}

void PushStream::OnDone() {
  pusher_->Remove(this);
  delete this;
}

// ---- client ----

AgentMessage Hello() {
  AgentMessage hello;
  hello.mutable_hello()->set_host_id("floor");
  return hello;
}

// Counts messages from `start` for `seconds`, then prints "CPU-seconds
// messages" and exits the process (the streams die with it).
class Counter {
 public:
  explicit Counter(absl::Time start) : start_(start) {}
  void Count() {
    if (absl::Now() < start_) return;
    if (measuring_.exchange(true) == false)
      cpu_at_start_ = CpuSeconds(RUSAGE_SELF);
    messages_.fetch_add(1, std::memory_order_relaxed);
  }
  [[noreturn]] void Report(double seconds) {
    absl::SleepFor(start_ - absl::Now() + absl::Seconds(seconds));
    const double cpu = CpuSeconds(RUSAGE_SELF) - cpu_at_start_.load();
    std::printf("%.6f %lld\n", cpu, static_cast<long long>(messages_.load()));
    std::fflush(stdout);
    _exit(0);
  }

 private:
  const absl::Time start_;
  std::atomic<bool> measuring_{false};
  std::atomic<double> cpu_at_start_{0};
  std::atomic<int64_t> messages_{0};
};

class CallbackReader final
    : public grpc::ClientBidiReactor<AgentMessage, CoordinatorMessage> {
 public:
  CallbackReader(v1::RelaySync::Stub* stub, Counter* counter)
      : counter_(counter), hello_(Hello()) {
    stub->async()->Sync(&context_, this);
    StartWrite(&hello_);
    StartRead(&in_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    counter_->Count();
    StartRead(&in_);
  }
  void OnWriteDone(bool) override {}
  void OnDone(const grpc::Status&) override {}

 private:
  Counter* const counter_;
  grpc::ClientContext context_;
  AgentMessage hello_;
  CoordinatorMessage in_;
};

int RunClient(const std::string& target, const std::string& mode,
              double seconds) {
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = v1::RelaySync::NewStub(channel);
  Counter counter(absl::Now() + absl::Seconds(1));
  if (mode == "callback") {
    new CallbackReader(stub.get(), &counter);  // lives until _exit
    counter.Report(seconds);
  }
  if (mode == "async") {
    std::thread reader([&] {
      grpc::CompletionQueue cq;
      grpc::ClientContext context;
      auto stream = stub->PrepareAsyncSync(&context, &cq);
      CoordinatorMessage in;
      AgentMessage hello = Hello();
      // Tags: 1 call started, 2 hello written, 3 a read.
      stream->StartCall(reinterpret_cast<void*>(1));
      void* tag;
      bool ok;
      while (cq.Next(&tag, &ok)) {
        if (!ok) return;
        const intptr_t t = reinterpret_cast<intptr_t>(tag);
        if (t == 1) {
          stream->Write(hello, reinterpret_cast<void*>(2));
          stream->Read(&in, reinterpret_cast<void*>(3));
        } else if (t == 3) {
          counter.Count();
          stream->Read(&in, reinterpret_cast<void*>(3));
        }
      }
    });
    reader.detach();
    counter.Report(seconds);
  }
  // sync: as SyncSession, a reader thread and a caller that waits.
  grpc::ClientContext context;
  auto stream = stub->Sync(&context);
  if (!stream->Write(Hello())) return 1;
  std::thread reader([&] {
    CoordinatorMessage in;
    while (stream->Read(&in)) counter.Count();
  });
  reader.detach();
  counter.Report(seconds);
}

// ---- the run ----

int RunServer(const std::string& self) {
  const int clients = absl::GetFlag(FLAGS_clients);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int deltas = absl::GetFlag(FLAGS_deltas);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const std::string mode = absl::GetFlag(FLAGS_client);
  if (mode != "sync" && mode != "callback" && mode != "async") {
    std::fprintf(stderr, "--client: sync, callback or async\n");
    return 2;
  }
  Pusher pusher;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&pusher);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  const std::string target = absl::StrCat("127.0.0.1:", port);

  struct Child {
    pid_t pid;
    int out;
  };
  std::vector<Child> children;
  for (int i = 0; i < clients; ++i) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      const std::string t = "--target=" + target;
      const std::string c = "--client=" + mode;
      const std::string s = absl::StrCat("--seconds=", seconds);
      execl(self.c_str(), self.c_str(), "--role=client", t.c_str(), c.c_str(),
            s.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    children.push_back({pid, fds[0]});
  }
  // Push until every client has reported (they stop on their own).
  const absl::Duration interval = absl::Seconds(1 / rate);
  const absl::Time warm = absl::Now() + absl::Seconds(1);
  const absl::Time end = warm + absl::Seconds(seconds);
  std::atomic<bool> stop{false};
  double server_cpu = 0;
  std::thread push([&] {
    absl::Time next = absl::Now();
    bool measuring = false;
    while (!stop) {
      const absl::Time now = absl::Now();
      if (!measuring && now >= warm) {
        measuring = true;
        server_cpu = -CpuSeconds(RUSAGE_SELF);
      }
      if (measuring && now >= end && server_cpu < 0) {
        server_cpu += CpuSeconds(RUSAGE_SELF);
      }
      pusher.Round(deltas);
      next += interval;
      absl::SleepFor(next - absl::Now());
    }
  });
  double client_cpu = 0;
  int64_t received = 0;
  for (const Child& c : children) {
    char buf[128] = {};
    ssize_t n = 0, got;
    while ((got = read(c.out, buf + n, sizeof(buf) - 1 - n)) > 0) n += got;
    close(c.out);
    int status = 0;
    waitpid(c.pid, &status, 0);
    std::vector<std::string> parts = absl::StrSplit(buf, ' ');
    double cpu = 0;
    int64_t count = 0;
    if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &cpu) ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[1]), &count)) {
      std::fprintf(stderr, "a client reported nothing (status %d)\n", status);
      stop = true;
      push.join();
      return 1;
    }
    client_cpu += cpu;
    received += count;
  }
  stop = true;
  push.join();
  if (server_cpu < 0) {  // every client ended before the window did
    server_cpu += CpuSeconds(RUSAGE_SELF);
  }
  if (received == 0) {
    std::fprintf(stderr, "no message arrived\n");
    return 1;
  }
  std::printf(
      "%d %s clients x %.0f msg/s, %d changes/msg, %.0f s: received %lld "
      "(%.0f/s)\n"
      "  client CPU   %.1f us/msg  %.1f us/change\n"
      "  server CPU   %.1f us/msg  %.1f us/change-delivery\n",
      clients, mode.c_str(), rate, deltas, seconds,
      static_cast<long long>(received), received / seconds,
      client_cpu * 1e6 / received, client_cpu * 1e6 / received / deltas,
      server_cpu * 1e6 / received, server_cpu * 1e6 / received / deltas);
  // Not a clean shutdown: the streams' reactors would wait for their
  // clients, which are gone; nothing is left to flush.
  std::fflush(stdout);
  _exit(0);
}

}  // namespace
}  // namespace relaysync::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "What a pushed message costs gRPC itself: a server pushing to client "
      "processes that only count (see the file's comment).");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_role) == "client") {
    return relaysync::bench::RunClient(absl::GetFlag(FLAGS_target),
                                       absl::GetFlag(FLAGS_client),
                                       absl::GetFlag(FLAGS_seconds));
  }
  return relaysync::bench::RunServer("/proc/self/exe");
}
