#include "backends/map/relayers_db.h"

#include <db.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/bdb.h"
#include "backends/map/file_lock.h"
#include "common/logging.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

absl::string_view View(const DBT& dbt) {
  absl::string_view s(static_cast<const char*>(dbt.data), dbt.size);
  if (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return s;
}

int64_t MtimeNanos(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

const char* TypeName(MapOptions::Type type) {
  return type == MapOptions::Type::kHash ? "hash" : "btree";
}

// A new map is world-readable (sendmail reads a map owned by another user
// only then) and writable by its owner alone, whatever the umask.
constexpr mode_t kMapMode = 0644;

// Opens the map for reading, or for writing, creating it if missing (then
// *created is set, and its mode is still to be fixed). The map nearly always
// exists, so a write costs one open(2), not a failed O_EXCL create first.
int OpenOrCreate(const std::string& path, bool writable, bool* created) {
  if (!writable) return open(path.c_str(), O_RDONLY | O_CLOEXEC);
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, kMapMode);
    *created = fd >= 0;
    if (fd >= 0 || errno != EEXIST) return fd;
    // Created by someone else meanwhile: open theirs.
  }
  return open(path.c_str(), O_RDWR | O_CLOEXEC);
}

// Sets `fd`'s mtime to `seconds`, leaving its atime; false with errno set
// on failure. The nanoseconds count writes on from `before`'s: sendmail
// compares seconds alone, but a reader that compares the whole mtime (every
// RelayersDb) sees each write at once, even one the 2 s bound holds in the
// same second.
bool SetFileMtime(int fd, int64_t seconds, const struct stat& before) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(seconds);
  times[1].tv_nsec = (before.st_mtim.tv_nsec + 1) % 1000000000;
  return futimens(fd, times) == 0;
}

}  // namespace

void MapBatch::Put(std::string key, int64_t ticks) {
  ops_.push_back(Op{true, std::move(key), absl::StrCat(ticks)});
}

void MapBatch::Delete(std::string key) {
  ops_.push_back(Op{false, std::move(key), std::string()});
}

// An flock(2) on the map file, released when the object dies. `st` is the
// file's state when the lock was granted.
class RelayersDb::Lock {
 public:
  Lock() = default;
  ~Lock() {
    if (fd >= 0) close(fd);  // closing the descriptor releases the flock
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  int fd = -1;
  struct stat st {};
};

RelayersDb::RelayersDb(std::string path, Mode mode, const MapOptions& options)
    : path_(std::move(path)), mode_(mode), options_(options) {}

RelayersDb::~RelayersDb() { CloseHandle(); }

absl::StatusOr<std::unique_ptr<RelayersDb>> RelayersDb::Open(
    const std::string& path, Mode mode, const MapOptions& options) {
  std::unique_ptr<RelayersDb> db(new RelayersDb(path, mode, options));
  // Validate (and, for kReadWrite, create) the file now so that a bad path
  // is reported before any work is done.
  Lock lock;
  absl::Status s = db->LockAndOpen(mode == Mode::kReadWrite, &lock);
  if (!s.ok()) return s;
  return db;
}

absl::Status RelayersDb::DbError(absl::string_view what, int err) const {
  return absl::InternalError(absl::StrCat("relayers.db: ", path_, ": ", what,
                                          ": ", bdb::ErrorDetail(err)));
}

std::string RelayersDb::StoredKey(absl::string_view key) const {
  std::string stored(key);
  if (options_.nul_terminated_keys) stored.push_back('\0');
  return stored;
}

// Anyone who can write the map can make any address relay.
absl::Status RelayersDb::StopWorldWrites(int fd, struct stat* st) const {
  const mode_t fixed = st->st_mode & 07777 & ~static_cast<mode_t>(S_IWOTH);
  if (fchmod(fd, fixed) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "relayers.db: ", path_, ": world-writable (mode ",
        absl::StrFormat("%04o", st->st_mode & 07777),
        "), so any local user could make any address relay, and chmod o-w "
        "failed: ",
        std::strerror(errno), "; refusing to use it"));
  }
  LogWarning("relayers.db: ", path_, ": was world-writable (mode ",
             absl::StrFormat("%04o", st->st_mode & 07777),
             "), so any local user could make any address relay; now ",
             absl::StrFormat("%04o", fixed));
  st->st_mode = (st->st_mode & ~static_cast<mode_t>(07777)) | fixed;
  return absl::OkStatus();
}

absl::Status RelayersDb::LockAndOpen(bool exclusive, Lock* lock) {
  const bool writable = mode_ == Mode::kReadWrite;
  if (exclusive && !writable) {
    return absl::FailedPreconditionError(
        absl::StrCat("relayers.db: ", path_, ": opened read-only"));
  }
  // A file replaced by rename between open() and flock() is retried so the
  // lock is always on the file that the path names.
  for (int attempt = 0;; ++attempt) {
    if (lock->fd >= 0) close(lock->fd);
    bool created = false;
    lock->fd = OpenOrCreate(path_, writable, &created);
    if (created && fchmod(lock->fd, kMapMode) != 0) {
      // The umask narrowed it, and sendmail may then be unable to read it.
      return absl::UnavailableError(absl::StrCat(
          "relayers.db: ", path_, ": chmod 0644: ", std::strerror(errno)));
    }
    if (lock->fd < 0) {
      int err = errno;
      std::string msg =
          absl::StrCat("relayers.db: ", path_, ": ", std::strerror(err));
      if (err == ENOENT) return absl::NotFoundError(msg);
      if (err == EACCES || err == EPERM || err == EROFS) {
        return absl::PermissionDeniedError(msg);
      }
      return absl::UnavailableError(msg);
    }
    absl::Status locked =
        FlockWithTimeout(lock->fd, exclusive, options_.lock_timeout, path_);
    if (!locked.ok()) return locked;
    struct stat by_path;
    if (fstat(lock->fd, &lock->st) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "relayers.db: ", path_, ": fstat: ", std::strerror(errno)));
    }
    if (stat(path_.c_str(), &by_path) == 0 &&
        by_path.st_ino == lock->st.st_ino &&
        by_path.st_dev == lock->st.st_dev) {
      break;
    }
    if (attempt >= 10) {
      return absl::AbortedError(absl::StrCat(
          "relayers.db: ", path_, ": file keeps being replaced; giving up"));
    }
  }
  if (!S_ISREG(lock->st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("relayers.db: ", path_, ": not a regular file"));
  }
  if (writable && (lock->st.st_mode & S_IWOTH) != 0) {
    absl::Status s = StopWorldWrites(lock->fd, &lock->st);
    if (!s.ok()) return s;
  }
  Identity now{lock->st.st_dev, lock->st.st_ino, lock->st.st_size,
               MtimeNanos(lock->st)};
  if (db_ != nullptr && now == seen_) return absl::OkStatus();
  CloseHandle();
  // A zero-length file is an empty map: readers see nothing, the first
  // writer formats it in place (same inode, under the exclusive lock).
  if (lock->st.st_size == 0 && !exclusive) return absl::OkStatus();
  absl::Status s = OpenHandle(lock->st.st_size == 0);
  if (!s.ok()) return s;
  if (fstat(lock->fd, &lock->st) == 0) {
    seen_ = Identity{lock->st.st_dev, lock->st.st_ino, lock->st.st_size,
                     MtimeNanos(lock->st)};
  }
  return absl::OkStatus();
}

absl::Status RelayersDb::OpenHandle(bool empty) {
  DB* db = nullptr;
  int err = db_create(&db, nullptr, 0);
  if (err != 0) return DbError("db_create", err);
  bdb::CaptureErrors(db);
  const bool writable = mode_ == Mode::kReadWrite;
  if (writable) {
    // Bulk loads of a million entries thrash the 256 KiB default cache.
    db->set_cachesize(db, 0, static_cast<u_int32_t>(options_.cache_bytes), 1);
  }
  const DBTYPE type =
      options_.type == MapOptions::Type::kHash ? DB_HASH : DB_BTREE;
  u_int32_t flags = writable ? 0 : DB_RDONLY;
  if (empty) flags |= DB_CREATE;
  err = db->open(db, nullptr, path_.c_str(), nullptr, empty ? type : DB_UNKNOWN,
                 flags, 0644);
  if (err != 0) {
    db->close(db, DB_NOSYNC);
    if (err == EINVAL || err == DB_OLD_VERSION) {
      bdb::ForgetError();
      return absl::FailedPreconditionError(
          absl::StrCat("relayers.db: ", path_, ": not a Berkeley DB ",
                       TypeName(options_.type), " file"));
    }
    return DbError("open", err);
  }
  DBTYPE actual;
  err = db->get_type(db, &actual);
  if (err != 0 || actual != type) {
    db->close(db, DB_NOSYNC);
    return absl::FailedPreconditionError(absl::StrCat(
        "relayers.db: ", path_, ": not a Berkeley DB ", TypeName(options_.type),
        " file", actual == DB_BTREE ? " (it is a btree)" : "",
        actual == DB_HASH ? " (it is a hash)" : ""));
  }
  db_ = db;
  return absl::OkStatus();
}

void RelayersDb::CloseHandle() {
  if (db_ != nullptr) {
    // Every write path syncs before unlocking; nothing is left to flush.
    db_->close(db_, DB_NOSYNC);
    db_ = nullptr;
  }
}

absl::StatusOr<std::string> RelayersDb::Get(absl::string_view key) {
  Lock lock;
  absl::Status s = LockAndOpen(false, &lock);
  if (!s.ok()) return s;
  if (db_ != nullptr) {
    std::string stored = StoredKey(key);
    DBT k = bdb::In(stored);
    DBT v;
    std::memset(&v, 0, sizeof(v));
    int err = db_->get(db_, nullptr, &k, &v, 0);
    if (err == 0) return std::string(View(v));
    if (err != DB_NOTFOUND) return DbError("get", err);
  }
  return absl::NotFoundError(
      absl::StrCat("relayers.db: ", path_, ": ", key, " not present"));
}

absl::StatusOr<std::vector<MapEntry>> RelayersDb::ReadAll() {
  Lock lock;
  absl::Status s = LockAndOpen(false, &lock);
  if (!s.ok()) return s;
  std::vector<MapEntry> out;
  if (db_ == nullptr) return out;
  DBC* cursor = nullptr;
  int err = db_->cursor(db_, nullptr, &cursor, 0);
  if (err != 0) return DbError("cursor", err);
  DBT k, v;
  std::memset(&k, 0, sizeof(k));
  std::memset(&v, 0, sizeof(v));
  while ((err = cursor->get(cursor, &k, &v, DB_NEXT)) == 0) {
    out.push_back(MapEntry{std::string(View(k)), std::string(View(v))});
  }
  cursor->close(cursor);
  if (err != DB_NOTFOUND) return DbError("read", err);
  return out;
}

absl::StatusOr<ApplyResult> RelayersDb::Apply(const MapBatch& batch) {
  ApplyResult result;
  const std::vector<MapBatch::Op>& ops = batch.ops();
  size_t next = 0;
  while (next < ops.size()) {
    if (next > 0) {
      // flock is not fair: a writer that locks again at once can keep a
      // woken reader waiting for part after part. A pause lets it in.
      absl::SleepFor(absl::Microseconds(200));
    }
    absl::Status s = ApplyPart(ops, &next, &result);
    if (!s.ok()) return s;
  }
  return result;
}

absl::Status RelayersDb::ApplyPart(const std::vector<MapBatch::Op>& ops,
                                   size_t* next, ApplyResult* result) {
  const absl::Time asked = absl::Now();
  Lock lock;
  absl::Status s = LockAndOpen(true, &lock);
  if (!s.ok()) return s;
  const absl::Time locked = absl::Now();
  result->longest_lock_wait =
      std::max(result->longest_lock_wait, locked - asked);
  size_t written = 0;
  for (; *next < ops.size(); ++*next) {
    // A sendmail session waits in flock for as long as this runs. Half the
    // time is left for the flush, which writes what these changes dirtied.
    if (*next % 64 == 0 && written > 0 &&
        absl::Now() - locked >= options_.max_lock_hold / 2) {
      break;
    }
    const MapBatch::Op& op = ops[*next];
    std::string stored = StoredKey(op.key);
    DBT k = bdb::In(stored);
    int err;
    if (op.is_put) {
      DBT v = bdb::In(op.value);
      err = db_->put(db_, nullptr, &k, &v, 0);
    } else {
      err = db_->del(db_, nullptr, &k, 0);
      if (err == DB_NOTFOUND) {
        result->missing.push_back(op.key);
        continue;
      }
    }
    if (err != 0) {
      // Flush what was applied so the file stays consistent, then report.
      absl::Status fail = DbError(op.is_put ? "put" : "delete", err);
      if (written > 0) FinishWrite(lock).IgnoreError();
      return fail;
    }
    ++written;
    ++result->written;
  }
  absl::Status f = written > 0 ? FinishWrite(lock) : absl::OkStatus();
  result->longest_lock_hold =
      std::max(result->longest_lock_hold, absl::Now() - locked);
  return f;
}

absl::StatusOr<std::vector<MapEntry>> RelayersDb::RemoveAtOrBefore(
    int64_t cutoff) {
  Lock lock;
  absl::Status s = LockAndOpen(true, &lock);
  if (!s.ok()) return s;
  std::vector<MapEntry> removed;
  DBC* cursor = nullptr;
  int err = db_->cursor(db_, nullptr, &cursor, 0);
  if (err != 0) return DbError("cursor", err);
  DBT k, v;
  std::memset(&k, 0, sizeof(k));
  std::memset(&v, 0, sizeof(v));
  while ((err = cursor->get(cursor, &k, &v, DB_NEXT)) == 0) {
    absl::StatusOr<int64_t> ticks = ParseTicks(View(v), "value");
    if (!ticks.ok() || *ticks > cutoff) continue;
    MapEntry entry{std::string(View(k)), std::string(View(v))};
    err = cursor->del(cursor, 0);
    if (err != 0) break;
    removed.push_back(std::move(entry));
  }
  cursor->close(cursor);
  absl::Status fail =
      err == DB_NOTFOUND ? absl::OkStatus() : DbError("expire", err);
  if (!removed.empty()) {
    s = FinishWrite(lock);
    if (fail.ok()) fail = s;
  }
  if (!fail.ok()) return fail;
  return removed;
}

absl::StatusOr<bool> RelayersDb::Fill(const MapBatch& batch) {
  if (mode_ != Mode::kReadWrite || batch.empty()) return false;
  // Only an empty map, seen under the lock; what it looked like then must
  // still be what is renamed over.
  Identity empty;
  struct stat old_st;
  {
    Lock lock;
    absl::Status s = LockAndOpen(true, &lock);
    if (!s.ok()) return s;
    DBT k, v;
    std::memset(&k, 0, sizeof(k));
    std::memset(&v, 0, sizeof(v));
    DBC* cursor = nullptr;
    int err = db_->cursor(db_, nullptr, &cursor, 0);
    if (err == 0) {
      err = cursor->get(cursor, &k, &v, DB_FIRST);
      cursor->close(cursor);
    }
    if (err != DB_NOTFOUND) return false;  // not empty (or unreadable)
    empty = seen_;
    old_st = lock.st;
  }
  struct stat link_st;
  if (lstat(path_.c_str(), &link_st) != 0 || !S_ISREG(link_st.st_mode) ||
      link_st.st_nlink != 1) {
    return false;  // a symlink or a hard link would be cut off
  }
  const size_t slash = path_.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path_.substr(0, slash);
  std::string temp = absl::StrCat(dir, "/.", path_.substr(slash + 1),
                                  ".relaysync-fill.XXXXXX");
  int fd = mkstemp(temp.data());
  if (fd < 0) return false;  // no write access to the directory
  auto give_up = [&](absl::Status why) -> absl::StatusOr<bool> {
    close(fd);
    unlink(temp.c_str());
    if (why.ok()) return false;
    return why;
  };
  // The map's owner, group and mode: sendmail checks them.
  if ((old_st.st_uid != geteuid() || old_st.st_gid != getegid()) &&
      fchown(fd, old_st.st_uid, old_st.st_gid) != 0) {
    return give_up(absl::OkStatus());
  }
  if (fchmod(fd, old_st.st_mode & 07777) != 0) return give_up(absl::OkStatus());
  if (absl::Status s = BuildFile(temp, fd, batch); !s.ok()) return give_up(s);

  Lock lock;
  absl::Status s = LockAndOpen(true, &lock);
  if (!s.ok()) return give_up(s);
  if (!(seen_ == empty)) return give_up(absl::OkStatus());  // written since
  bool unsignalled = false;
  const int64_t before = lock.st.st_mtim.tv_sec;
  if (!SetFileMtime(fd, NextMtime(before, &unsignalled), lock.st) ||
      rename(temp.c_str(), path_.c_str()) != 0) {
    return give_up(absl::UnavailableError(absl::StrCat(
        "relayers.db: ", path_, ": replacing it: ", std::strerror(errno))));
  }
  close(fd);
  unsignalled_ = unsignalled_ || unsignalled;
  // Sessions that have the old file open must see it change to reopen the
  // map by its path. Its mtime may run ahead of the bound: it has no name
  // any more, so only they see it.
  if (!SetFileMtime(lock.fd, std::max(before + 1, options_.clock->NowSeconds()),
                    lock.st)) {
    LogWarning("relayers.db: ", path_,
               ": replaced, but moving the old file's mtime failed (",
               std::strerror(errno),
               "): sessions that have it open see the new map when they "
               "reopen it");
  }
  if (options_.sync_to_disk) {
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  CloseHandle();  // on the old file; the next call opens the new one
  return true;
}

absl::Status RelayersDb::BuildFile(const std::string& temp, int fd,
                                   const MapBatch& batch) const {
  DB* db = nullptr;
  int err = db_create(&db, nullptr, 0);
  if (err != 0) return DbError("db_create", err);
  bdb::CaptureErrors(db);
  // Sized for the batch up front: no bucket splits while it is filled. The
  // cache holds the whole file (42 bytes an entry for IPv4), so each page
  // is written once, at the end; it is freed when the handle closes.
  const DBTYPE type =
      options_.type == MapOptions::Type::kHash ? DB_HASH : DB_BTREE;
  // makemap's and the file system's page size.
  constexpr size_t kPageSize = 4096;
  if (type == DB_HASH) {
    // Berkeley DB uses the estimate only with a fill factor, which its
    // documentation puts at (pagesize - 32) / (key + data + 8) bytes.
    size_t bytes = 0;
    for (const MapBatch::Op& op : batch.ops()) {
      bytes += op.key.size() + op.value.size();
    }
    const size_t per_entry =
        bytes / batch.size() + 8 + (options_.nul_terminated_keys ? 1 : 0);
    db->set_pagesize(db, kPageSize);
    db->set_h_ffactor(db, static_cast<u_int32_t>(std::max<size_t>(
                              1, (kPageSize - 32) / per_entry)));
    db->set_h_nelem(
        db, static_cast<u_int32_t>(std::min<size_t>(batch.size(), UINT32_MAX)));
  }
  const uint64_t cache =
      std::clamp<uint64_t>(uint64_t{batch.size()} * 48, 8 << 20, 512 << 20);
  db->set_cachesize(db, static_cast<u_int32_t>(cache >> 30),
                    static_cast<u_int32_t>(cache & ((1u << 30) - 1)), 1);
  err = db->open(db, nullptr, temp.c_str(), nullptr, type, DB_CREATE, 0600);
  if (err != 0) {
    db->close(db, DB_NOSYNC);
    return DbError("open (new file)", err);
  }
  for (const MapBatch::Op& op : batch.ops()) {
    if (!op.is_put) {
      db->close(db, DB_NOSYNC);
      return absl::InvalidArgumentError("relayers.db: Fill: not a put");
    }
    std::string stored = StoredKey(op.key);
    DBT k = bdb::In(stored);
    DBT v = bdb::In(op.value);
    err = db->put(db, nullptr, &k, &v, 0);
    if (err != 0) {
      db->close(db, DB_NOSYNC);
      return DbError("put (new file)", err);
    }
  }
  err = db->close(db, 0);  // writes every page
  if (err != 0) return DbError("write (new file)", err);
  if (options_.sync_to_disk && fsync(fd) != 0) {
    return absl::UnavailableError(
        absl::StrCat("relayers.db: ", temp, ": fsync: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RelayersDb::SignalWrites() {
  if (!unsignalled_) return absl::OkStatus();
  Lock lock;
  absl::Status s = LockAndOpen(/*exclusive=*/true, &lock);
  if (!s.ok()) return s;
  const int64_t before = lock.st.st_mtim.tv_sec;
  const int64_t mtime =
      std::min(before + 1, options_.clock->NowSeconds() +
                               absl::ToInt64Seconds(options_.max_mtime_ahead));
  if (mtime <= before) return absl::OkStatus();  // not yet
  s = SetMtime(lock, mtime);
  if (s.ok()) unsignalled_ = false;
  return s;
}

absl::Status RelayersDb::FinishWrite(const Lock& lock) {
  if (options_.sync_to_disk) {
    // DB->sync writes the dirty pages and fsyncs the file itself.
    int err = db_->sync(db_, 0);
    if (err != 0) return DbError("sync", err);
  } else {
    // A trickle to 100% clean writes every dirty page of the handle's
    // private cache, without the fsync that DB->sync ends with.
    DB_ENV* env = db_->get_env(db_);
    int written = 0;
    int err = env->memp_trickle(env, 100, &written);
    if (err != 0) return DbError("write", err);
  }
  bool unsignalled = false;
  const int64_t mtime = NextMtime(lock.st.st_mtim.tv_sec, &unsignalled);
  unsignalled_ = unsignalled;
  return SetMtime(lock, mtime);
}

int64_t RelayersDb::NextMtime(int64_t before, bool* unsignalled) const {
  // sendmail reopens a map only when its mtime (whole seconds) moved past the
  // one it saw, so two batches in one second must still differ.
  const int64_t now = options_.clock->NowSeconds();
  const int64_t mtime = std::max(
      now, std::min(before + 1,
                    now + absl::ToInt64Seconds(options_.max_mtime_ahead)));
  *unsignalled = mtime <= before;
  return mtime;
}

absl::Status RelayersDb::SetMtime(const Lock& lock, int64_t mtime) {
  if (!SetFileMtime(lock.fd, mtime, lock.st)) {
    return absl::UnavailableError(absl::StrCat(
        "relayers.db: ", path_, ": futimens: ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(lock.fd, &st) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "relayers.db: ", path_, ": fstat: ", std::strerror(errno)));
  }
  seen_ = Identity{st.st_dev, st.st_ino, st.st_size, MtimeNanos(st)};
  return absl::OkStatus();
}

}  // namespace relaysync
