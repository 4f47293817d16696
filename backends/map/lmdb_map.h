// The postfix-lmdb kind: an LMDB file as Postfix's lmdb: tables are
// (postmap writes them; package postfix-lmdb reads them). Keys and values
// end with a NUL, as postmap writes them. Postfix does not use LMDB's own
// lock file: every program must take fcntl(2) locks on the database file,
// shared to read and exclusive to write (lmdb_table(5), SYNCHRONIZATION),
// and open it with MDB_NOLOCK. LMDB is copy-on-write, so a reader never sees
// a half-written transaction, and Postfix needs no restart to see a change.
#ifndef RELAYSYNC_BACKENDS_MAP_LMDB_MAP_H_
#define RELAYSYNC_BACKENDS_MAP_LMDB_MAP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backends/map/relayers_db.h"

struct MDB_env;

namespace relaysync {

// Thread-safe. The environment stays open between calls (closing any
// descriptor of the file would drop this process's fcntl locks on it).
class LmdbMap : public MapWriter {
 public:
  // Opens `path` (the file, no subdirectory). Writable: creates a missing
  // file (0644). options.lock_timeout bounds the wait for the lock;
  // without options.sync_to_disk, commits skip the fsync (MDB_NOSYNC).
  static absl::StatusOr<std::unique_ptr<LmdbMap>> Open(
      const std::string& path, bool writable, const MapOptions& options = {});
  ~LmdbMap() override;
  LmdbMap(const LmdbMap&) = delete;
  LmdbMap& operator=(const LmdbMap&) = delete;

  absl::StatusOr<std::vector<MapEntry>> ReadAll() override;
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;

 private:
  LmdbMap(std::string path, bool writable, const MapOptions& options);
  absl::Status OpenEnv();
  // fcntl lock on the whole file: F_RDLCK, F_WRLCK or F_UNLCK; waits at
  // most options_.lock_timeout.
  absl::Status LockLocked(short type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `write` in one write transaction under the exclusive lock,
  // growing the map and retrying when it is full.
  template <typename Fn>
  absl::Status WriteTxnLocked(Fn write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view what, int rc) const;

  const std::string path_;
  const bool writable_;
  const MapOptions options_;
  int fd_ = -1;  // the lock descriptor
  MDB_env* env_ = nullptr;
  mutable absl::Mutex mu_;
  size_t map_size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_LMDB_MAP_H_
