#include "backends/map/lmdb_map.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

constexpr size_t kMinMapSize = 16 << 20;  // Postfix's lmdb_map_size default

MDB_val In(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string WithNul(absl::string_view s) {
  std::string out(s);
  out.push_back('\0');
  return out;
}

std::string View(const MDB_val& v) {
  absl::string_view s(static_cast<const char*>(v.mv_data), v.mv_size);
  if (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

LmdbMap::LmdbMap(std::string path, bool writable, const MapOptions& options)
    : path_(std::move(path)), writable_(writable), options_(options) {}

LmdbMap::~LmdbMap() {
  if (env_ != nullptr) mdb_env_close(env_);
  if (fd_ >= 0) close(fd_);
}

absl::Status LmdbMap::Error(absl::string_view what, int rc) const {
  const std::string msg =
      absl::StrCat("lmdb map: ", path_, ": ", what, ": ", mdb_strerror(rc));
  if (rc == ENOENT) return absl::NotFoundError(msg);
  if (rc == EACCES || rc == EPERM || rc == EROFS) {
    return absl::PermissionDeniedError(msg);
  }
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
    return absl::FailedPreconditionError(msg);
  }
  return absl::UnavailableError(msg);
}

absl::StatusOr<std::unique_ptr<LmdbMap>> LmdbMap::Open(
    const std::string& path, bool writable, const MapOptions& options) {
  std::unique_ptr<LmdbMap> map(new LmdbMap(path, writable, options));
  absl::Status s = map->OpenEnv();
  if (!s.ok()) return s;
  return map;
}

absl::Status LmdbMap::OpenEnv() {
  absl::MutexLock l(&mu_);
  fd_ = writable_ ? open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)
                  : open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Error("open", errno);
  struct stat st;
  if (fstat(fd_, &st) != 0) return Error("fstat", errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("lmdb map: ", path_, ": not a regular file"));
  }
  // Under the exclusive lock: a new, empty file is formatted on open.
  absl::Status s = LockLocked(writable_ ? F_WRLCK : F_RDLCK);
  if (!s.ok()) return s;
  int rc = mdb_env_create(&env_);
  map_size_ =
      std::max<size_t>(kMinMapSize, 2 * static_cast<size_t>(st.st_size));
  if (rc == 0) rc = mdb_env_set_mapsize(env_, map_size_);
  unsigned flags = MDB_NOSUBDIR | MDB_NOLOCK;
  if (!writable_) flags |= MDB_RDONLY;
  if (!options_.sync_to_disk) flags |= MDB_NOSYNC;
  if (rc == 0) rc = mdb_env_open(env_, path_.c_str(), flags, 0644);
  s = rc == 0 ? absl::OkStatus() : Error("open", rc);
  LockLocked(F_UNLCK).IgnoreError();
  return s;
}

absl::Status LmdbMap::LockLocked(short type) {
  struct flock lock;
  std::memset(&lock, 0, sizeof(lock));
  lock.l_type = type;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  const absl::Time deadline = absl::Now() + options_.lock_timeout;
  absl::Duration wait = absl::Milliseconds(1);
  for (;;) {
    if (fcntl(fd_, F_SETLK, &lock) == 0) return absl::OkStatus();
    if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
      return Error("fcntl lock", errno);
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("lmdb map: ", path_, ": still locked after ",
                       absl::FormatDuration(options_.lock_timeout)));
    }
    absl::SleepFor(wait);
    wait = std::min(wait * 2, absl::Milliseconds(50));
  }
}

absl::StatusOr<std::vector<MapEntry>> LmdbMap::ReadAll() {
  absl::MutexLock l(&mu_);
  absl::Status s = LockLocked(F_RDLCK);
  if (!s.ok()) return s;
  std::vector<MapEntry> out;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
  if (rc == 0) rc = mdb_cursor_open(txn, dbi, &cursor);
  MDB_val k, v;
  while (rc == 0 && (rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) == 0) {
    out.push_back(MapEntry{View(k), View(v)});
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (txn != nullptr) mdb_txn_abort(txn);
  LockLocked(F_UNLCK).IgnoreError();
  if (rc != MDB_NOTFOUND) return Error("read", rc);
  return out;
}

template <typename Fn>
absl::Status LmdbMap::WriteTxnLocked(Fn write) {
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat("lmdb map: ", path_, ": opened read-only"));
  }
  absl::Status s = LockLocked(F_WRLCK);
  if (!s.ok()) return s;
  int rc;
  for (int attempt = 0;; ++attempt) {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
    if (rc == 0) rc = write(txn, dbi);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else if (txn != nullptr) {
      mdb_txn_abort(txn);
    }
    if (rc != MDB_MAP_FULL || attempt >= 20) break;
    // As Postfix does: double the map and try again.
    map_size_ *= 2;
    rc = mdb_env_set_mapsize(env_, map_size_);
    if (rc != 0) break;
  }
  LockLocked(F_UNLCK).IgnoreError();
  return rc == 0 ? absl::OkStatus() : Error("write", rc);
}

absl::StatusOr<ApplyResult> LmdbMap::Apply(const MapBatch& batch) {
  ApplyResult result;
  if (batch.empty()) return result;
  absl::MutexLock l(&mu_);
  absl::Status s = WriteTxnLocked([&](MDB_txn* txn, MDB_dbi dbi) {
    result = ApplyResult();
    for (const MapBatch::Op& op : batch.ops()) {
      const std::string key = WithNul(op.key);
      MDB_val k = In(key);
      int rc;
      if (op.is_put) {
        const std::string value = WithNul(op.value);
        MDB_val v = In(value);
        rc = mdb_put(txn, dbi, &k, &v, 0);
      } else {
        rc = mdb_del(txn, dbi, &k, nullptr);
        if (rc == MDB_NOTFOUND) {
          result.missing.push_back(op.key);
          continue;
        }
      }
      if (rc != 0) return rc;
      ++result.written;
    }
    return 0;
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<MapEntry>> LmdbMap::RemoveAtOrBefore(
    int64_t cutoff) {
  absl::MutexLock l(&mu_);
  std::vector<MapEntry> removed;
  absl::Status s = WriteTxnLocked([&](MDB_txn* txn, MDB_dbi dbi) {
    removed.clear();
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    MDB_val k, v;
    while (rc == 0 && (rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) == 0) {
      MapEntry e{View(k), View(v)};
      absl::StatusOr<int64_t> ticks = ParseTicks(e.value, "value");
      if (!ticks.ok() || *ticks > cutoff) continue;
      rc = mdb_cursor_del(cursor, 0);
      removed.push_back(std::move(e));
    }
    if (cursor != nullptr) mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
  if (!s.ok()) return s;
  return removed;
}

}  // namespace relaysync
