// Small files that must never be seen half-written (tail offsets, agent
// state): written to a temporary file, fsynced and renamed into place.
#ifndef RELAYSYNC_AGENT_ATOMIC_FILE_H_
#define RELAYSYNC_AGENT_ATOMIC_FILE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace relaysync {

// Replaces `path` with `contents` so that after a crash the file holds either
// the old or the new contents: unique temp file in the same directory, fsync,
// rename, fsync of the directory. Safe to call concurrently for one path.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, int mode = 0600);

// The whole file, or nullopt if it does not exist. Refuses files larger than
// `max_bytes` (these files are tiny; a huge one is not ours).
absl::StatusOr<std::optional<std::string>> ReadSmallFile(
    const std::string& path, size_t max_bytes = 64 * 1024);

// fsync of a directory, so that a rename or create inside it is durable.
absl::Status SyncDirectoryOf(const std::string& path);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_ATOMIC_FILE_H_
