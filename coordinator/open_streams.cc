#include "coordinator/open_streams.h"

#include "coordinator/sync_stream.h"

namespace relaysync {

OpenStreams::OpenStreams(size_t max_streams, PushPacer* pacer)
    : max_streams_(max_streams), pacer_(pacer) {}

OpenStreams::Admission OpenStreams::Add(SyncStream* stream,
                                        const std::string& identity,
                                        int max_for_identity) {
  absl::MutexLock l(&mu_);
  if (closed_) return Admission::kClosed;
  if (streams_.size() >= max_streams_) return Admission::kFull;
  if (!identity.empty()) {
    auto open = by_identity_.find(identity);
    if (open != by_identity_.end() && open->second >= max_for_identity) {
      return Admission::kTooManyForIdentity;
    }
  }
  streams_.insert(stream);
  pacer_->SetStreams(streams_.size());
  if (!identity.empty()) ++by_identity_[identity];
  return Admission::kAdmitted;
}

void OpenStreams::Remove(SyncStream* stream) {
  absl::MutexLock l(&mu_);
  const std::string& identity = stream->caller().identity;
  if (streams_.erase(stream) == 1 && !identity.empty()) {
    auto it = by_identity_.find(identity);
    if (it != by_identity_.end() && --it->second <= 0) by_identity_.erase(it);
  }
  pacer_->SetStreams(streams_.size());
}

std::vector<SyncStream*> OpenStreams::RefLocked() {
  std::vector<SyncStream*> out(streams_.begin(), streams_.end());
  // A stream in the set has not passed Remove(), so it is alive.
  for (SyncStream* stream : out) stream->Ref();
  return out;
}

std::vector<SyncStream*> OpenStreams::Ref() {
  absl::MutexLock l(&mu_);
  return RefLocked();
}

std::vector<SyncStream*> OpenStreams::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
  return RefLocked();
}

}  // namespace relaysync
