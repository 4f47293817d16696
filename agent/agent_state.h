// What the agent remembers about the cluster state across restarts: which
// state version (of which store epoch) its relay map reflects, sent in Hello
// so the coordinator can resume with deltas instead of a snapshot, and the
// coordinator's expiry policy, which the agent applies on its own.
#ifndef RELAYSYNC_AGENT_AGENT_STATE_H_
#define RELAYSYNC_AGENT_AGENT_STATE_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
  mutable std::mutex mu_;  // saves in call order; a load sees a whole file
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_AGENT_STATE_H_
