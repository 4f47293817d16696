// flock(2) with a time limit. sendmail takes flock(LOCK_SH) around each map
// lookup; a writer that only polls with LOCK_NB can starve behind a stream
// of overlapping readers, so the wait is a real blocking flock, interrupted
// by a per-thread timer when the limit passes.
#ifndef RELAYSYNC_BACKENDS_MAP_FILE_LOCK_H_
#define RELAYSYNC_BACKENDS_MAP_FILE_LOCK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace relaysync {

// Locks `fd` (shared or exclusive), waiting at most `timeout`. On timeout
// returns DeadlineExceededError naming `path`. Installs a no-op handler for
// one real-time signal (SIGRTMIN + 4) on first use.
absl::Status FlockWithTimeout(int fd, bool exclusive, absl::Duration timeout,
                              const std::string& path);

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_FILE_LOCK_H_
