#include "coordinator/sync_service.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/logging.h"
#include "coordinator/limits.h"
#include "rpc/grpc_status.h"

namespace relaysync {

using v1::AgentMessage;
using v1::CoordinatorMessage;

// State shared by one stream's reader (the RPC thread) and its sender.
class SyncService::Stream {
 public:
  Stream(SyncService* service, grpc::ServerContext* context,
         grpc::ServerReaderWriter<CoordinatorMessage, AgentMessage>* rw)
      : service_(service), context_(context), rw_(rw) {}

  grpc::Status Run();

 private:
  void SenderLoop();
  // Sends what the agent lacks: a snapshot, or deltas after next_version_.
  bool SendState();
  bool SendSnapshot();
  bool SendAcks();
  void Wake() {
    std::lock_guard<std::mutex> l(mu_);
    wake_ = true;
    cv_.notify_all();
  }
  // Validates and merges one batch; returns event ids to acknowledge.
  grpc::Status HandleLogins(const v1::LoginBatch& batch);

  SyncService* const service_;
  grpc::ServerContext* const context_;
  grpc::ServerReaderWriter<CoordinatorMessage, AgentMessage>* const rw_;
  std::string host_id_;
  // Sender thread only: the epoch and version the agent has (or will have
  // once it applies what was sent), and whether it must re-send its map.
  std::string epoch_;
  uint64_t next_version_ = 0;
  bool need_snapshot_ = false;
  bool resend_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool done_ = false;
  // Acknowledgements wait until the agent has been sent the state up to
  // `version` (see StateWriter::MergeLogins).
  struct PendingAck {
    uint64_t version;
    std::vector<std::string> ids;
  };
  std::vector<PendingAck> acks_;
};

SyncService::SyncService(Store* store, ChangeHub* hub, StateWriter* writer,
                         AgentRegistry* registry, const Clock* clock)
    : store_(store),
      hub_(hub),
      writer_(writer),
      registry_(registry),
      clock_(clock) {}

grpc::Status SyncService::Sync(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<CoordinatorMessage, AgentMessage>* stream) {
  Stream s(this, context, stream);
  return s.Run();
}

grpc::Status SyncService::Stream::Run() {
  AgentMessage first;
  if (!rw_->Read(&first)) return grpc::Status::CANCELLED;
  if (!first.has_hello()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "hello: the first message of a Sync stream must be a "
                        "hello");
  }
  const v1::Hello& hello = first.hello();
  if (hello.host_id().empty() || hello.host_id().size() > kMaxTextField) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "hello.host_id: must be 1-256 bytes");
  }
  host_id_ = hello.host_id();
  // Deltas only make sense for a version of this store's history that the
  // store has reached; anything else (new agent, replaced or rolled-back
  // store) is answered with a snapshot.
  absl::StatusOr<uint64_t> current = service_->store_->Version();
  if (hello.store_epoch() == service_->store_->Epoch() && current.ok() &&
      hello.applied_version() <= *current) {
    epoch_ = hello.store_epoch();
    next_version_ = hello.applied_version();
  } else {
    need_snapshot_ = true;
    // The agent applied state this store no longer has: its map is the
    // best copy of what was lost, so it re-sends it.
    resend_ = !hello.store_epoch().empty();
  }
  const int handle = service_->registry_->Add(
      AgentInfo{host_id_, context_->peer(), hello.applied_version(),
                service_->clock_->NowSeconds()});
  LogInfo("agent ", host_id_, " connected from ", context_->peer(),
          need_snapshot_ ? " (needs a snapshot)"
                         : absl::StrCat(" at version ", next_version_));
  const int sub = service_->hub_->Subscribe([this] { Wake(); });
  std::thread sender([this] { SenderLoop(); });

  grpc::Status status = grpc::Status::OK;
  AgentMessage msg;
  while (rw_->Read(&msg)) {
    if (msg.has_logins()) {
      status = HandleLogins(msg.logins());
      if (!status.ok()) break;
    } else if (msg.has_applied()) {
      service_->registry_->SetApplied(handle, msg.applied().version());
    } else if (msg.has_hello()) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "hello: sent twice on one stream");
      break;
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }
  sender.join();
  service_->hub_->Unsubscribe(sub);
  service_->registry_->Remove(handle);
  LogInfo("agent ", host_id_, " disconnected",
          status.ok() ? "" : absl::StrCat(": ", status.error_message()));
  return status;
}

grpc::Status SyncService::Stream::HandleLogins(const v1::LoginBatch& batch) {
  if (static_cast<size_t>(batch.events_size()) > kMaxLoginsPerBatch) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("logins.events: ", batch.events_size(),
                     " events in one batch, at most ", kMaxLoginsPerBatch));
  }
  std::vector<Login> logins;
  std::vector<std::string> ids;
  for (int i = 0; i < batch.events_size(); ++i) {
    const v1::LoginEvent& e = batch.events(i);
    ids.push_back(e.event_id());
    absl::StatusOr<Address> address = Address::Parse(e.address());
    if (!address.ok() || e.login_time() <= 0 ||
        e.event_id().size() > kMaxTextField ||
        e.user().size() > kMaxTextField) {
      // Acknowledged and dropped: re-sending it would never succeed.
      LogWarning("agent ", host_id_, ": dropping event ", i, " (", e.event_id(),
                 "): ",
                 address.ok() ? "bad login_time or oversized field"
                              : address.status().message());
      continue;
    }
    logins.push_back(Login{address->ToString(), e.login_time()});
  }
  absl::StatusOr<uint64_t> merged =
      service_->writer_->MergeLogins(std::move(logins));
  if (!merged.ok()) {
    // Not acknowledged: the agent keeps the events and re-sends them.
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("store: ", merged.status().message()));
  }
  std::lock_guard<std::mutex> l(mu_);
  acks_.push_back(PendingAck{*merged, std::move(ids)});
  wake_ = true;
  cv_.notify_all();
  return grpc::Status::OK;
}

void SyncService::Stream::SenderLoop() {
  for (;;) {
    if (!SendState() || !SendAcks()) {
      context_->TryCancel();
      return;
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(200),
                 [this] { return wake_ || done_ || service_->shutting_down_; });
    wake_ = false;
    if (done_ || service_->shutting_down_ || context_->IsCancelled()) {
      l.unlock();
      if (service_->shutting_down_) context_->TryCancel();
      return;
    }
  }
}

bool SyncService::Stream::SendAcks() {
  CoordinatorMessage msg;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto due = std::stable_partition(
        acks_.begin(), acks_.end(),
        [this](const PendingAck& a) { return a.version <= next_version_; });
    for (auto it = acks_.begin(); it != due; ++it) {
      for (std::string& id : it->ids) {
        msg.mutable_ack()->add_event_ids(std::move(id));
      }
    }
    acks_.erase(acks_.begin(), due);
  }
  if (!msg.has_ack()) return true;
  return rw_->Write(msg);
}

bool SyncService::Stream::SendState() {
  for (int rounds = 0; rounds < 1000; ++rounds) {
    if (!need_snapshot_ && epoch_ != service_->store_->Epoch()) {
      LogWarning("agent ", host_id_,
                 ": store epoch changed (store replaced "
                 "or restarted empty); resynchronizing");
      need_snapshot_ = true;
      resend_ = true;
    }
    if (!need_snapshot_ && next_version_ > service_->hub_->latest()) {
      // The agent is ahead of the hub: either a commit not yet published
      // (wait for it) or a store that went back in time (resync).
      absl::StatusOr<uint64_t> version = service_->store_->Version();
      if (version.ok() && *version < next_version_) {
        LogWarning("agent ", host_id_, " has version ", next_version_,
                   ", the store only ", *version, ": resynchronizing");
        need_snapshot_ = true;
        resend_ = true;
      }
    }
    if (need_snapshot_) {
      if (!SendSnapshot()) return false;
      continue;
    }
    std::vector<StateChange> changes;
    if (!service_->hub_->Read(epoch_, next_version_, kMaxDeltasPerMessage,
                              &changes)) {
      absl::StatusOr<std::vector<StateChange>> from_store =
          service_->store_->ChangesSince(next_version_, kMaxDeltasPerMessage);
      if (!from_store.ok()) {
        if (from_store.status().code() != absl::StatusCode::kOutOfRange) {
          LogWarning("agent ", host_id_,
                     ": reading changes: ", from_store.status().message());
          return false;
        }
        need_snapshot_ = true;
        continue;
      }
      changes = std::move(*from_store);
    }
    if (changes.empty()) return true;
    CoordinatorMessage msg;
    v1::DeltaBatch* batch = msg.mutable_deltas();
    batch->set_store_epoch(epoch_);
    for (const StateChange& c : changes) {
      v1::Delta* d = batch->add_deltas();
      d->set_version(c.version);
      d->set_address(c.address);
      d->set_ticks(c.ticks);
      d->set_removed(c.removed);
    }
    if (!rw_->Write(msg)) return false;
    next_version_ = changes.back().version;
  }
  return true;
}

bool SyncService::Stream::SendSnapshot() {
  absl::StatusOr<Snapshot> snap = service_->store_->ReadSnapshot();
  if (!snap.ok()) {
    LogWarning("agent ", host_id_, ": snapshot: ", snap.status().message());
    return false;
  }
  size_t i = 0;
  do {
    CoordinatorMessage msg;
    v1::SnapshotChunk* chunk = msg.mutable_snapshot();
    chunk->set_version(snap->version);
    chunk->set_store_epoch(snap->epoch);
    for (size_t n = 0; n < kSnapshotChunkEntries && i < snap->entries.size();
         ++n, ++i) {
      v1::Entry* e = chunk->add_entries();
      e->set_address(snap->entries[i].address);
      e->set_ticks(snap->entries[i].ticks);
    }
    chunk->set_last(i >= snap->entries.size());
    chunk->set_resend(resend_);
    if (!rw_->Write(msg)) return false;
  } while (i < snap->entries.size());
  LogInfo("agent ", host_id_, ": sent snapshot of ", snap->entries.size(),
          " entries at version ", snap->version);
  epoch_ = snap->epoch;
  next_version_ = snap->version;
  need_snapshot_ = false;
  resend_ = false;
  {
    // Versions of another epoch mean nothing now; the snapshot is all the
    // store has, so every waiting acknowledgement can go.
    std::lock_guard<std::mutex> l(mu_);
    for (PendingAck& a : acks_) a.version = 0;
  }
  return true;
}

}  // namespace relaysync
