#include "bench/merge_observer.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"
#include "testing/wait.h"

namespace relaysync::bench {

struct MergeObserver::Stream {
  std::unique_ptr<v1::RelaySync::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>>
      rw;
};

MergeObserver::MergeObserver(std::string target, TlsFiles tls,
                             Callback callback)
    : target_(std::move(target)),
      tls_(std::move(tls)),
      callback_(std::move(callback)) {}

MergeObserver::~MergeObserver() { Stop(); }

absl::Status MergeObserver::Start(absl::Duration timeout) {
  stream_ = std::make_unique<Stream>();
  stream_->stub =
      v1::RelaySync::NewStub(MakeChannel(target_, absl::Seconds(30), tls_));
  stream_->rw = stream_->stub->Sync(&stream_->context);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host_id("propagation-bench-observer");
  hello.mutable_hello()->set_agent_version("relaysync-propagation-bench");
  if (!stream_->rw->Write(hello)) {
    grpc::Status s = stream_->rw->Finish();
    stream_.reset();
    return absl::UnavailableError(
        absl::StrCat("observer stream to ", target_, ": ", s.error_message()));
  }
  running_ = true;
  thread_ = std::thread([this] { ReadLoop(); });
  if (!testing::WaitForCondition([this] { return first_message_ || !running_; },
                                 timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("observer stream to ", target_, ": no snapshot within ",
                     absl::FormatDuration(timeout)));
  }
  if (!running_) {
    return absl::UnavailableError(
        absl::StrCat("observer stream to ", target_, " ended"));
  }
  return absl::OkStatus();
}

void MergeObserver::Stop() {
  if (stream_ == nullptr) return;
  stream_->context.TryCancel();
  if (thread_.joinable()) thread_.join();
  stream_->rw->Finish();
  stream_.reset();
}

void MergeObserver::ReadLoop() {
  v1::CoordinatorMessage msg;
  while (stream_->rw->Read(&msg)) {
    if (msg.has_snapshot()) {
      for (const v1::Entry& e : msg.snapshot().entries())
        callback_(e.address());
    } else if (msg.has_deltas()) {
      for (const v1::Delta& d : msg.deltas().deltas()) callback_(d.address());
    }
    first_message_ = true;
  }
  running_ = false;
}

}  // namespace relaysync::bench
