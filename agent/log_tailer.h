// Follows a growing text log (like `tail -F`) and hands complete lines to a
// callback, surviving rotation, truncation and agent restarts: the position
// is saved in a small state file once the callback has consumed the lines.
#ifndef RELAYSYNC_AGENT_LOG_TAILER_H_
#define RELAYSYNC_AGENT_LOG_TAILER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/tail_state.h"
#include "common/rate_limited_log.h"

namespace relaysync {

// Delivery is at-least-once: the saved offset only moves past lines whose
// callback has returned, so a crash may repeat up to one checkpoint interval
// of lines but never skips one.
//
// Rotation (the path now names another file): the old file is read to its
// end, then the new one from offset 0; the old file stays open and is still
// read for `rotation_grace`, because writers keep appending to it until they
// reopen their log (logrotate's postrotate step). Truncation (file shorter
// than the offset, e.g. copytruncate): restart at 0.
//
// Start position: with a saved state for the same file (device + inode) and
// the file at least that long, right after the last delivered line; if the
// path now names another file (rotated while the agent was down), the old
// file is looked for next to it (same directory, name starting with the log's
// name, same inode: "mail.log.1") and finished first, then the new one is
// read from 0; with no state file, the END of the file, so old history is
// not replayed. A file that does not exist yet is read from 0 once it
// appears. A line in progress where reading starts or ends is dropped.
//
// Trust: with refuse_writable_by_others, a file that users other than its
// owner may write to (mode g+w or o+w) is not read: Start() fails, and a
// file that becomes writable later (or a rotated one created so) is skipped
// with a warning until fixed, then read from its end, since anything written
// meanwhile may be forged.
//
// Known limits: with copytruncate, lines written between logrotate's copy
// and its truncate are lost (true of every tailer); lines of a rotated file
// read during the grace period are not covered by the state file.
class LogTailer {
 public:
  struct Options {
    std::string path;
    // Where the position is kept (TailState). Empty: no persistence; every
    // start begins at the end of the file.
    std::string state_path;
    // Upper bound on how long a missed inotify event delays a read, and on
    // how long Stop() takes.
    absl::Duration poll_interval = absl::Milliseconds(200);
    // Checkpoint when this much time or this many lines have passed since
    // the last one (and on Stop).
    absl::Duration checkpoint_interval = absl::Milliseconds(200);
    size_t checkpoint_lines = 1000;
    // How long a rotated-away file is still read.
    absl::Duration rotation_grace = absl::Seconds(10);
    // Longer lines are dropped (with a warning) instead of buffered.
    size_t max_line_bytes = 64 * 1024;
    // Do not read a group- or world-writable file (see Trust above).
    bool refuse_writable_by_others = false;
  };
  // Called on the tailer's thread, one complete line at a time, without its
  // '\n'. The view is valid only during the call.
  using LineCallback = std::function<void(absl::string_view line)>;

  explicit LogTailer(Options options);
  ~LogTailer();  // Stop()s.
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Loads the state file and positions the reader (synchronously, so lines
  // appended after Start() returns are delivered), then starts the thread.
  // Errors name the path. Call at most once.
  absl::Status Start(LineCallback callback);
  // Stops the thread, waits for it and writes a final checkpoint.
  // Idempotent.
  void Stop();

  const std::string& path() const { return options_.path; }
  // Bytes of the file at path() not yet delivered as lines: its size less
  // the position of the last delivered line, or its whole size when it is
  // a file not opened yet (rotated in). For metrics; thread-safe; one
  // stat(2).
  int64_t LagBytes() const;

 private:
  // One open file and the bytes read from it that are not a line yet.
  struct Reader {
    int fd = -1;
    dev_t device = 0;
    ino_t inode = 0;
    int64_t read_offset = 0;  // bytes read from fd
    std::string pending;      // read, not yet a complete line
    bool discarding = false;  // dropping bytes up to the next newline
    int64_t head_bytes = 0;   // fingerprint of the first bytes (TailState)
    uint32_t head_crc = 0;
  };

  bool OpenCurrent(bool from_end, const TailState* state);
  // True (with a warning) if refuse_writable_by_others forbids a file of
  // mode `mode`.
  bool RefusedAsWritable(mode_t mode);
  void OpenRotatedAway(const TailState& state);
  void Close(Reader* reader);
  void Run();
  void WaitForEvents(bool immediate);
  void Round(bool* more);
  void ReadAvailable(Reader* reader, bool* more);
  void Consume(Reader* reader, absl::string_view data);
  void Checkpoint(bool force);
  // A problem that may persist (retried every poll): rate limited.
  void Warn(const std::string& message);
  void Note(const std::string& message);  // a one-off event: always logged

  const Options options_;
  LineCallback callback_;
  absl::Mutex lifecycle_mu_;  // serializes Start and Stop
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
  std::atomic<bool> stop_{false};
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;

  // The rest is used by one thread at a time: Start() before the tailer
  // thread exists, then the tailer thread, then Stop() after joining it.
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the poll at once
  int file_watch_ = -1;
  Reader current_;  // the file at options_.path
  Reader old_;      // a rotated-away file, read until old_deadline_
  std::chrono::steady_clock::time_point old_deadline_;
  // Where to resume in current_: just past the last delivered line.
  int64_t committed_offset_ = 0;
  bool committed_skip_ = false;
  TailState saved_;  // what the state file holds
  bool have_saved_ = false;
  size_t lines_since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  RateLimitedLog trouble_log_{absl::Minutes(1)};  // Warn, RefusedAsWritable
  // A file was refused as writable by others: read the next one from its
  // end.
  bool distrusted_ = false;
  // For LagBytes(), from any thread: current_'s inode, and its offset just
  // past the last delivered line.
  std::atomic<uint64_t> delivered_inode_{0};
  std::atomic<int64_t> delivered_offset_{0};
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOG_TAILER_H_
