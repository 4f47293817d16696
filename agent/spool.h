// The agent's durable outbox: logins are appended (and fdatasync'ed) before
// they are sent, and dropped only when the coordinator acknowledges them, so
// no login is lost to a crash or an outage. One append-only file per spool
// directory, replayed on Open and compacted when mostly acknowledged.
#ifndef RELAYSYNC_AGENT_SPOOL_H_
#define RELAYSYNC_AGENT_SPOOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/local_login.h"

namespace relaysync {

struct SpooledLogin {
  std::string event_id;  // host_id + "/" + decimal sequence number
  LocalLogin login;
  uint64_t sequence = 0;  // that number: later logins have higher ones
};

struct SpoolOptions {
  // Bound on unacknowledged logins (memory is ~200 bytes each). Beyond it the
  // OLDEST are dropped, with a warning on stderr: during a long coordinator
  // outage recent logins matter more, and relayers.db entries expire anyway.
  size_t max_pending = 1'000'000;
  // Rewrite the file once it holds at least this many acknowledged logins
  // and they outnumber the pending ones (so the file stays < ~2x pending).
  size_t compact_min_dead = 4096;
};

// Files in the spool directory: spool.log (records), spool.lock (flock held
// while open: one agent per directory). Thread-safe: every method takes a
// mutex; Append includes an fdatasync, Ack only a write (see Ack). The
// spool is the one owner of "pending until acknowledged": Ack says which
// logins it retired, so nobody keeps a second list of what is in flight.
class Spool {
 public:
  static constexpr const char* kFileName = "spool.log";
  static constexpr const char* kLockName = "spool.lock";

  // Creates `dir` (0700, see MakePrivateDirectory) and the file if needed,
  // replays it (a torn tail is cut off with a warning; any other damage is
  // DataLoss) and continues the sequence after the highest number ever issued.
  // Errors name the path.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(
      const std::string& dir, const std::string& host_id,
      const SpoolOptions& options = SpoolOptions());
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Assigns ids and makes the logins durable before returning them (in
  // order). On error nothing was added. An id counts as issued once Append
  // has returned it: ids are never reused after that, across restarts and
  // compactions (a crash inside Append leaves a torn tail whose ids were
  // never returned to anyone). The result includes logins that the
  // max_pending bound dropped at once (only when one call exceeds it).
  absl::StatusOr<std::vector<SpooledLogin>> Append(
      const std::vector<LocalLogin>& logins);
  // Forgets the listed events and returns the logins it retired: each one
  // that was pending, once, in the order listed. Unknown ids (already
  // acknowledged or dropped) and repeats are ignored. The record is written
  // but not fsynced: a power failure may bring an acknowledged login back,
  // to be re-sent and ignored by the idempotent merge. On error nothing was
  // retired.
  absl::StatusOr<std::vector<SpooledLogin>> Ack(
      const std::vector<std::string>& event_ids);

  // Unacknowledged logins, oldest first, at most `limit`.
  std::vector<SpooledLogin> Pending(size_t limit = SIZE_MAX) const;
  size_t pending_count() const;
  const std::string& path() const { return path_; }

 private:
  Spool(std::string dir, std::string host_id, const SpoolOptions& options);
  absl::Status Replay() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends records; with `sync`, fdatasyncs before returning.
  absl::Status WriteRecords(const std::string& bytes, bool sync)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<SpooledLogin>> AckLocked(
      const std::vector<std::string>& event_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const std::string host_id_;
  const SpoolOptions options_;
  const std::string path_;
  int lock_fd_ = -1;  // set by Open(), before anyone else sees the spool
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t file_size_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of good records in fd_
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  size_t dead_ ABSL_GUARDED_BY(mu_) = 0;  // acknowledged adds still in the file
  // A failed write that could not be rolled back: the file end is unknown,
  // so further writes are refused until the agent restarts (and replays).
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  // By sequence number.
  std::map<uint64_t, SpooledLogin> pending_ ABSL_GUARDED_BY(mu_);
  // Event id -> sequence.
  std::unordered_map<std::string, uint64_t> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SPOOL_H_
