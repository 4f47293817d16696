// Map kinds whose readers take no lock (Exim's lookups, cdb): a write reads
// the whole file, applies its batch and writes a new file that is renamed
// into place (temp file, fsync, rename), so a reader sees the old file or
// the new one whole and never waits. The file format is a MapFileFormat
// (text, Berkeley DB, cdb: map_file_formats.h). docs/maps.md has the
// reader's side.
#ifndef RELAYSYNC_BACKENDS_MAP_REPLACED_MAP_H_
#define RELAYSYNC_BACKENDS_MAP_REPLACED_MAP_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "backends/map/relayers_db.h"

namespace relaysync {

// How one kind of file holds a map. Implementations are stateless.
class MapFileFormat {
 public:
  using Entries = std::map<std::string, std::string>;  // key -> value
  virtual ~MapFileFormat() = default;

  // For messages: "text map", "cdb map", ...
  virtual absl::string_view name() const = 0;
  // Every entry of the file open as `fd` at `path`.
  virtual absl::StatusOr<Entries> Read(int fd,
                                       const std::string& path) const = 0;
  // Writes `entries` into the new, empty file open as `fd` at `path`. The
  // caller syncs and renames it.
  virtual absl::Status Write(int fd, const std::string& path,
                             const Entries& entries) const = 0;
  // InvalidArgument for a key the format cannot hold.
  virtual absl::Status CheckKey(absl::string_view key) const {
    (void)key;
    return absl::OkStatus();
  }
};

// The file is 0644; writers (the agent, vsmtprelay) take flock(2) on
// PATH.lock (0600) for the read-modify-rename, so none loses another's
// write. Every write costs a read and a write of the whole map: for maps of
// up to some 100,000 entries. Thread-safe.
class ReplacedMap : public MapWriter {
 public:
  // Opens `path`. Writable: creates a missing file (an empty map) and the
  // lock file next to it. Read-only: the file must exist.
  // options.lock_timeout bounds the wait for another writer;
  // options.sync_to_disk adds an fsync of the directory after each rename
  // (the file itself is always synced before the rename, so a crash never
  // leaves it empty or half-written).
  static absl::StatusOr<std::unique_ptr<ReplacedMap>> Open(
      const std::string& path, bool writable,
      std::unique_ptr<MapFileFormat> format, const MapOptions& options = {});

  absl::StatusOr<std::vector<MapEntry>> ReadAll() override;
  // A batch that changes nothing leaves the file untouched.
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;

 private:
  using Entries = MapFileFormat::Entries;
  class WriteLock;
  ReplacedMap(std::string path, bool writable,
              std::unique_ptr<MapFileFormat> format, const MapOptions& options);

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
  std::string Prefix() const;  // "<format name>: <path>: "

  const std::string path_;
  const bool writable_;
  const std::unique_ptr<MapFileFormat> format_;
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

#endif  // RELAYSYNC_BACKENDS_MAP_REPLACED_MAP_H_
