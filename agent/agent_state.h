// What the agent remembers about the cluster state across restarts: which
// state version (of which store epoch) its relay map reflects, sent in Hello
// so the coordinator can resume with deltas instead of a snapshot, and the
// coordinator's expiry policy, which the agent applies on its own. The file
// is AgentStateFile; AppliedState keeps the running agent's copy.
#ifndef RELAYSYNC_AGENT_AGENT_STATE_H_
#define RELAYSYNC_AGENT_AGENT_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

struct AgentState {
  std::string store_epoch;  // "" with version 0: nothing applied yet
  uint64_t applied_version = 0;
  // The kernel boot (/proc/sys/kernel/random/boot_id) during which the map
  // was written up to applied_version; "" if unknown. Map writes that are
  // not synced to disk are only known to be there within that boot.
  std::string boot_id;
  // The coordinator's expiry policy as it last told it (0: never); unset
  // until one has (then nothing expires locally). Not tied to the map's
  // contents: it survives a resynchronization.
  std::optional<int64_t> expire_after_seconds;

  friend bool operator==(const AgentState& a, const AgentState& b) {
    return a.store_epoch == b.store_epoch &&
           a.applied_version == b.applied_version && a.boot_id == b.boot_id &&
           a.expire_after_seconds == b.expire_after_seconds;
  }
};

// This boot's id, or "" where the kernel does not tell (not Linux).
std::string CurrentBootId();

// The file <dir>/agent.state (normally the spool directory), replaced
// atomically (temp + fsync + rename) on every Save. Thread-safe.
class AgentStateFile {
 public:
  static constexpr const char* kFileName = "agent.state";

  explicit AgentStateFile(const std::string& dir);

  // A missing file is the empty state; an unreadable one is an error naming
  // the path (the caller may choose to start from the empty state).
  absl::StatusOr<AgentState> Load() const;
  // InvalidArgument if the epoch contains a control character.
  absl::Status Save(const AgentState& state);

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable absl::Mutex mu_;  // saves in call order; a load sees a whole file
};

// AppliedState: the running agent's copy of its AgentState — what the map
// reflects (epoch, version) and the coordinator's expiry policy — and when
// to save it. Saves go to the AgentStateFile at most every `save_interval`
// (re-applying after a crash is harmless: deltas set absolute values), or
// at once with Save(). Thread-safe: the applier records, the sending
// thread saves and reports, and Stop() saves last.
class AppliedState {
 public:
  // `file` is not owned and must outlive this. `state`: as loaded at start.
  AppliedState(AgentStateFile* file, AgentState state,
               absl::Duration save_interval);

  // The map now reflects `version` of the store's `epoch`.
  void Record(const std::string& epoch, uint64_t version);
  // The coordinator's expiry policy (0: never). False if it was the one
  // already known (nothing to save).
  bool SetPolicy(int64_t expire_after_seconds);

  AgentState Snapshot() const;
  // The version applied to the map (0 before the first snapshot).
  uint64_t applied_version() const;

  // Saves what changed since the last save, unless that save is less than
  // save_interval old. A failed save is not retried before the next change.
  absl::Status MaybeSave();
  // Saves what changed since the last save, now.
  absl::Status Save();

 private:
  absl::Status SaveIf(bool force);

  AgentStateFile* const file_;
  const absl::Duration save_interval_;
  // Held across a save (outside mu_), so that saves reach the file in the
  // order their copies were taken. Taken before mu_.
  absl::Mutex save_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  AgentState state_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_save_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_AGENT_STATE_H_
