// The LogTailer's position file: which file (device, inode) it was reading
// and how far it had delivered, so a restart neither replays nor skips lines.
#ifndef RELAYSYNC_AGENT_TAIL_STATE_H_
#define RELAYSYNC_AGENT_TAIL_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace relaysync {

struct TailState {
  // The log path this state belongs to: a state file left over from another
  // configured log is not applied to this one.
  std::string log_path;
  uint64_t device = 0;  // 0, 0: the log did not exist yet
  uint64_t inode = 0;
  int64_t offset = 0;  // just past the last delivered line
  bool skip = false;   // offset is mid-line: drop up to the next newline
  // CRC-32C of the file's first head_bytes bytes (at most 64): inode
  // numbers are reused, so "same inode, long enough" alone could resume
  // in the middle of a different file.
  int64_t head_bytes = 0;
  uint32_t head_crc = 0;
};

// nullopt if the file does not exist. An unreadable file is an error naming
// its path.
absl::StatusOr<std::optional<TailState>> LoadTailState(
    const std::string& state_path);
// Atomic replace (temp + fsync + rename). Fails for a log path containing a
// newline.
absl::Status SaveTailState(const std::string& state_path,
                           const TailState& state);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_TAIL_STATE_H_
