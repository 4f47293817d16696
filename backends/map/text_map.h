// The text map kind: one "KEY<TAB>ticks" line per entry, for Exim's
// lsearch and iplsearch lookups and for scripts. A write reads the file,
// applies its batch and renames a new file into place (temp file, fsync,
// rename), so a reader never takes a lock and sees the old file or the new
// one whole. docs/maps.md has the reader's side.
#ifndef RELAYSYNC_BACKENDS_MAP_TEXT_MAP_H_
#define RELAYSYNC_BACKENDS_MAP_TEXT_MAP_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backends/map/relayers_db.h"

namespace relaysync {

// Keys that hold a colon or white space (IPv6 addresses) are written in
// double quotes: lsearch ends an unquoted key at the first colon. Reading
// accepts "key value", "key: value" and quoted keys; blank lines and
// "#" comments are skipped, and not kept by the next write. The file is
// 0644; writers (the agent, vsmtprelay) take flock(2) on PATH.lock (0600)
// for the read-modify-rename, so none loses another's write. Thread-safe.
class TextMap : public MapWriter {
 public:
  // Opens `path`. Writable: creates a missing file (empty) and the lock
  // file next to it. Read-only: the file must exist. options.lock_timeout
  // bounds the wait for another writer; options.sync_to_disk adds an fsync
  // of the directory after each rename (the file itself is always synced
  // before the rename, so a crash never leaves it empty).
  static absl::StatusOr<std::unique_ptr<TextMap>> Open(
      const std::string& path, bool writable, const MapOptions& options = {});

  absl::StatusOr<std::vector<MapEntry>> ReadAll() override;
  // A batch that changes nothing leaves the file untouched. Keys holding a
  // quote, a tab or a line break are refused (InvalidArgument).
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;

  // The lines this writes for `entries` (key -> value), in key order.
  static std::string Format(const std::map<std::string, std::string>& entries);

 private:
  using Entries = std::map<std::string, std::string>;
  class WriteLock;
  TextMap(std::string path, bool writable, const MapOptions& options);

  // Creates a missing file (writable) and reads it, for Open.
  absl::Status Validate();

  // The file's entries, re-read only when the file is no longer the one
  // this object last read or wrote.
  absl::StatusOr<const Entries*> LoadLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `entries` to a new file and renames it over the map.
  absl::Status ReplaceLocked(Entries entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view what, int err) const;

  const std::string path_;
  const bool writable_;
  const MapOptions options_;
  mutable absl::Mutex mu_;
  // What the file held when last read or written, and its identity then.
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const Identity& o) const {
      return dev == o.dev && ino == o.ino && size == o.size &&
             mtime_ns == o.mtime_ns;
    }
  };
  Identity seen_ ABSL_GUARDED_BY(mu_);
  bool cached_ ABSL_GUARDED_BY(mu_) = false;
  Entries entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_TEXT_MAP_H_
