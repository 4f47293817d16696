// OpenStreams: the Sync streams open now, and the bounds on them: all
// together (--max-streams) and per client identity (the access policy's
// max_streams). Keeps the PushPacer told how many there are.
#ifndef RELAYSYNC_COORDINATOR_OPEN_STREAMS_H_
#define RELAYSYNC_COORDINATOR_OPEN_STREAMS_H_

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/push_pacer.h"

namespace relaysync {

class SyncStream;

class OpenStreams {
 public:
  enum class Admission {
    kAdmitted,
    kClosed,  // the coordinator is shutting down
    kFull,    // max_streams open already
    kTooManyForIdentity,
  };

  // `pacer` is not owned and must outlive this.
  OpenStreams(size_t max_streams, PushPacer* pacer);

  size_t max_streams() const { return max_streams_; }

  // Adds `stream` unless it would break a bound. `identity` is the
  // client's (empty with --insecure: not counted per identity), allowed at
  // most `max_for_identity` streams. Thread-safe, like every call.
  Admission Add(SyncStream* stream, const std::string& identity,
                int max_for_identity);
  // The stream is done (its OnDone): no one pumps it from here on.
  void Remove(SyncStream* stream);
  // The open streams, each with a reference the caller must drop (Unref).
  std::vector<SyncStream*> Ref();
  // Refuses every Add from now on, and returns Ref().
  std::vector<SyncStream*> Close();

 private:
  std::vector<SyncStream*> RefLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_streams_;
  PushPacer* const pacer_;

  absl::Mutex mu_;
  std::set<SyncStream*> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> by_identity_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_OPEN_STREAMS_H_
