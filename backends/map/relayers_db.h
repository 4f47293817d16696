// relayers.db: the Berkeley DB map that the MTA consults at RCPT time.
// Key = address text (optionally NUL-terminated), value = ASCII decimal
// seconds since the epoch. Reads and writes are safe next to a running
// sendmail; see docs/relayers-db.md for the locking and mtime contract.
#ifndef RELAYSYNC_BACKENDS_MAP_RELAYERS_DB_H_
#define RELAYSYNC_BACKENDS_MAP_RELAYERS_DB_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"

struct __db;  // Berkeley DB's DB handle, kept out of this header.

namespace relaysync {

// Per-file format options. sendmail and makemap use the defaults; Postfix
// and Exim look up keys with a trailing NUL.
struct MapOptions {
  enum class Type { kHash, kBtree };
  Type type = Type::kHash;
  bool nul_terminated_keys = false;
  // How long to wait for another process's lock before giving up.
  absl::Duration lock_timeout = absl::Seconds(10);
  // Source of "now" for the mtime bump. Not owned; must outlive the map.
  const Clock* clock = SystemClock::Get();
  // true: every write waits until its pages are on disk (DB->sync, as
  // vsmtprelay and makemap do). false: they are handed to the kernel, so
  // every reader sees them at once and they survive the writer's crash,
  // but not the machine's; for a writer that can rebuild the map after a
  // reboot (the agent), it saves a disk flush per write.
  bool sync_to_disk = true;
  // How far ahead of the clock a write may move the mtime (see Apply). Also
  // about how long a session that has the map open may answer from its
  // cached pages after a write: see docs/relayers-db.md.
  absl::Duration max_mtime_ahead = absl::Seconds(2);
  // The longest a write holds the exclusive lock, give or take one flush:
  // a bigger batch is written in several locked parts, so that no lookup
  // by an MTA waits much longer than this (sendmail blocks in flock).
  absl::Duration max_lock_hold = absl::Milliseconds(10);
  // The Berkeley DB cache of a writer's handle. Bulk loads of a million
  // entries thrash a small one (the library default is 256 KiB); a writer
  // that lives with the map (the agent) trades some of that speed for its
  // memory. Fill sizes its own cache for the batch.
  size_t cache_bytes = 8 << 20;
};

struct MapEntry {
  std::string key;    // without any trailing NUL
  std::string value;  // raw stored value, without any trailing NUL
};

// An ordered list of changes, applied in order; see MapWriter::Apply.
class MapBatch {
 public:
  struct Op {
    bool is_put;
    std::string key;
    std::string value;  // decimal ticks; empty for a delete
  };

  void Put(std::string key, int64_t ticks);
  void Delete(std::string key);
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  void Clear() { ops_.clear(); }
  void Reserve(size_t n) { ops_.reserve(n); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

struct ApplyResult {
  size_t written = 0;                // puts plus deletes that found a key
  std::vector<std::string> missing;  // deleted keys that were not present
  // Over the write's locked parts, the longest wait for the exclusive lock
  // (with the open that follows it) and the longest hold: what an MTA's
  // lookup may have waited. Zero where a format does not measure them.
  absl::Duration longest_lock_wait;
  absl::Duration longest_lock_hold;
};

// The seam over a relay map file, one implementation per file format
// (backends/map/map_kind.h opens the right one), so that the agent's
// materializer and vsmtprelay write every kind alike, and the materializer
// can be tested without a real file. Keys are in the map's own spelling.
class MapWriter {
 public:
  virtual ~MapWriter() = default;
  // Every entry, read under one shared lock.
  virtual absl::StatusOr<std::vector<MapEntry>> ReadAll() = 0;
  // Applies the batch in order, under one exclusive lock and one sync, or,
  // for a batch too big to write within MapOptions::max_lock_hold, under
  // several, one after the other: a reader may then see a prefix of it.
  // Each change is right on its own, so a prefix is a state a reader may
  // see (as between two smaller batches). On failure a prefix may be
  // written.
  virtual absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) = 0;
  // Removes, under one exclusive lock, every entry whose value is a number
  // <= `cutoff`, and returns them; entries whose value is not a number stay.
  virtual absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) = 0;
  // Moves the mtime for writes that could not move it themselves (see
  // RelayersDb::Apply), once the clock allows. Call about once a second.
  virtual absl::Status SignalWrites() { return absl::OkStatus(); }
  // Writes `batch` (puts of distinct keys only) into a map that holds no
  // entry, all at once, where the format has a quicker way than Apply and
  // it is safe; false when it did nothing (then Apply it). See
  // RelayersDb::Fill.
  virtual absl::StatusOr<bool> Fill(const MapBatch& batch) {
    (void)batch;
    return false;
  }
};

// An open relayers.db. Each call takes flock(2) on the file for its own
// duration only (shared for reads, exclusive for writes), so no lock is held
// between calls. Not thread-safe: one thread at a time per object.
class RelayersDb : public MapWriter {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // Opens `path`. kReadWrite creates a missing (or zero-length) file;
  // kReadOnly requires it to exist. A file that is not a Berkeley DB of the
  // configured type is an error and is never modified.
  //
  // Permissions (kReadWrite): a map this creates is mode 0644 whatever the
  // umask. A world-writable map (any local user could grant relaying) is
  // made o-w with a warning, at open and before any later write; if that
  // is not possible (another owner), the call fails with PermissionDenied.
  static absl::StatusOr<std::unique_ptr<RelayersDb>> Open(
      const std::string& path, Mode mode, const MapOptions& options = {});

  ~RelayersDb() override;
  RelayersDb(const RelayersDb&) = delete;
  RelayersDb& operator=(const RelayersDb&) = delete;

  const std::string& path() const { return path_; }

  // The raw value stored under `key`, or NotFoundError.
  absl::StatusOr<std::string> Get(absl::string_view key);

  // Every entry, in the file's own order, read under one shared lock.
  absl::StatusOr<std::vector<MapEntry>> ReadAll() override;

  // Applies `batch` in order under one exclusive lock (several for a batch
  // that takes longer than options.max_lock_hold), syncs the file, and
  // moves its mtime to max(now, previous mtime + 1 s) in whole seconds so
  // that an open sendmail map notices the change, but never further than
  // options.max_mtime_ahead ahead of the clock: more than one write a
  // second, kept up, would otherwise run the mtime away from the clock
  // without bound (by hours in a few minutes at 1,000 logins/s). A write
  // that finds the mtime at that bound leaves it there; sessions that open
  // the map later see the write, and SignalWrites() moves the mtime for
  // sessions already open once the clock has moved on. A batch that
  // changes nothing leaves the file untouched.
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override;

  // A map that holds no entry gets `batch` (puts of distinct keys) by
  // building a new file, sized for it, beside the map and renaming it over
  // the map: several times quicker than in-place puts for a big batch,
  // and readers are never locked out while it is built. Then the old
  // file's mtime moves on, so that a session that has it open reopens the
  // map by its path and finds the new file. Returns false, having changed
  // nothing, where that is not safe: the map is not empty, is not a plain
  // file with one link, the directory is not writable by this process, the
  // new file cannot get the map's owner, group and mode, or someone wrote
  // the map meanwhile.
  absl::StatusOr<bool> Fill(const MapBatch& batch) override;

  // If a write left the mtime where it was (at the bound), moves it one
  // second on as soon as that is within the bound; else does nothing.
  absl::Status SignalWrites() override;
  // A write is not yet signalled by the mtime.
  bool unsignalled() const { return unsignalled_; }

  // Removes, under one exclusive lock, every entry whose value is a number
  // <= `cutoff`, and returns them. Entries whose value is not a number are
  // left alone.
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override;

 private:
  class Lock;
  RelayersDb(std::string path, Mode mode, const MapOptions& options);

  // Takes the flock and (re)opens the Berkeley DB handle if the file changed
  // since this object last looked at it.
  absl::Status LockAndOpen(bool exclusive, Lock* lock);
  // Removes o+w from the open map `fd` (its state in `st`, updated).
  absl::Status StopWorldWrites(int fd, struct stat* st) const;
  // `empty`: the file has zero length and is formatted as a new map.
  absl::Status OpenHandle(bool empty);
  void CloseHandle();
  // Applies ops from *next on under one lock, until they are done or the
  // lock has been held for options_.max_lock_hold; advances *next.
  absl::Status ApplyPart(const std::vector<MapBatch::Op>& ops, size_t* next,
                         ApplyResult* result);
  // Builds the file `temp` (created, empty) from `batch`.
  absl::Status BuildFile(const std::string& temp, int fd,
                         const MapBatch& batch) const;
  // The mtime a write that finds `before` sets, and whether it is still
  // owed to open sessions (the bound held it back).
  int64_t NextMtime(int64_t before, bool* unsignalled) const;
  // Syncs, bumps the mtime and records the file's new identity.
  absl::Status FinishWrite(const Lock& lock);
  // Sets the file's mtime (whole seconds) and remembers the file as seen.
  absl::Status SetMtime(const Lock& lock, int64_t mtime);
  absl::Status DbError(absl::string_view what, int err) const;
  std::string StoredKey(absl::string_view key) const;

  const std::string path_;
  const Mode mode_;
  const MapOptions options_;
  __db* db_ = nullptr;
  // What the file looked like when db_ last reflected it.
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
  Identity seen_;
  bool unsignalled_ = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_RELAYERS_DB_H_
