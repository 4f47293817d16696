#include "backends/map/replaced_map.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/map/file_lock.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

constexpr mode_t kMapMode = 0644;  // as relayers.db: the MTA may run as anyone
constexpr mode_t kLockMode = 0600;

int64_t MtimeNanos(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

// flock(LOCK_EX) on PATH.lock, released when the object dies.
class ReplacedMap::WriteLock {
 public:
  WriteLock() = default;
  ~WriteLock() {
    if (fd >= 0) close(fd);
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  absl::Status Take(const std::string& map_path, absl::Duration timeout) {
    const std::string path = map_path + ".lock";
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kLockMode);
    if (fd < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat(path, ": open"));
    }
    return FlockWithTimeout(fd, /*exclusive=*/true, timeout, path);
  }

  int fd = -1;
};

ReplacedMap::ReplacedMap(std::string path, bool writable,
                         std::unique_ptr<MapFileFormat> format,
                         const MapOptions& options)
    : path_(std::move(path)),
      writable_(writable),
      format_(std::move(format)),
      options_(options) {}

absl::StatusOr<std::unique_ptr<ReplacedMap>> ReplacedMap::Open(
    const std::string& path, bool writable,
    std::unique_ptr<MapFileFormat> format, const MapOptions& options) {
  std::unique_ptr<ReplacedMap> map(
      new ReplacedMap(path, writable, std::move(format), options));
  absl::Status s = map->Validate();
  if (!s.ok()) return s;
  return map;
}

absl::Status ReplacedMap::Validate() {
  absl::MutexLock l(&mu_);
  if (writable_) {
    WriteLock lock;
    absl::Status s = lock.Take(path_, options_.lock_timeout);
    if (!s.ok()) return s;
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) {
      if (errno != ENOENT) return Error("stat", errno);
      s = ReplaceLocked(Entries());
      if (!s.ok()) return s;
    }
  }
  return LoadLocked().status();
}

std::string ReplacedMap::Prefix() const {
  return absl::StrCat(format_->name(), ": ", path_, ": ");
}

absl::Status ReplacedMap::Error(absl::string_view what, int err) const {
  const std::string msg =
      absl::StrCat(Prefix(), what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM || err == EROFS) {
    return absl::PermissionDeniedError(msg);
  }
  return absl::UnavailableError(msg);
}

absl::StatusOr<const ReplacedMap::Entries*> ReplacedMap::LoadLocked() {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && writable_) {
      // Removed behind our back: the next write creates it again.
      entries_.clear();
      cached_ = false;
      return &entries_;
    }
    return Error("open", errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Error("fstat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(Prefix(), "not a regular file"));
  }
  const Identity now{st.st_dev, st.st_ino, st.st_size, MtimeNanos(st)};
  if (cached_ && now == seen_) {
    close(fd);
    return &entries_;
  }
  absl::StatusOr<Entries> entries = format_->Read(fd, path_);
  close(fd);
  if (!entries.ok()) return entries.status();
  entries_ = std::move(*entries);
  seen_ = now;
  cached_ = true;
  return &entries_;
}

absl::Status ReplacedMap::ReplaceLocked(Entries entries) {
  std::string temp = path_ + ".XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Error("create temporary file", errno);
  absl::Status s = format_->Write(fd, temp, entries);
  if (s.ok() && fchmod(fd, kMapMode) != 0) {
    s = absl::ErrnoToStatus(errno, "chmod 0644");
  }
  // Before the rename: a crash must leave the old file or the whole new one.
  if (s.ok() && fsync(fd) != 0) s = absl::ErrnoToStatus(errno, "fsync");
  if (close(fd) != 0 && s.ok()) s = absl::ErrnoToStatus(errno, "close");
  if (s.ok() && rename(temp.c_str(), path_.c_str()) != 0) {
    s = absl::ErrnoToStatus(errno, "rename");
  }
  if (!s.ok()) {
    unlink(temp.c_str());
    return absl::Status(s.code(), absl::StrCat(Prefix(), s.message()));
  }
  if (options_.sync_to_disk) {
    const int dir = open(DirectoryOf(path_).c_str(), O_RDONLY | O_CLOEXEC);
    if (dir < 0) return Error("open directory", errno);
    const int rc = fsync(dir);
    const int err = errno;
    close(dir);
    if (rc != 0) return Error("fsync directory", err);
  }
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return Error("stat", errno);
  entries_ = std::move(entries);
  seen_ = Identity{st.st_dev, st.st_ino, st.st_size, MtimeNanos(st)};
  cached_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MapEntry>> ReplacedMap::ReadAll() {
  absl::MutexLock l(&mu_);
  absl::StatusOr<const Entries*> entries = LoadLocked();
  if (!entries.ok()) return entries.status();
  std::vector<MapEntry> out;
  out.reserve((*entries)->size());
  for (const auto& [key, value] : **entries) out.push_back({key, value});
  return out;
}

absl::StatusOr<ApplyResult> ReplacedMap::Apply(const MapBatch& batch) {
  ApplyResult result;
  if (batch.empty()) return result;
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat(Prefix(), "opened read-only"));
  }
  for (const MapBatch::Op& op : batch.ops()) {
    if (absl::Status s = format_->CheckKey(op.key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(), s.message()));
    }
  }
  absl::MutexLock l(&mu_);
  WriteLock lock;
  absl::Status s = lock.Take(path_, options_.lock_timeout);
  if (!s.ok()) return s;
  absl::StatusOr<const Entries*> current = LoadLocked();
  if (!current.ok()) return current.status();
  Entries next = **current;
  for (const MapBatch::Op& op : batch.ops()) {
    if (op.is_put) {
      std::string& value = next[op.key];
      if (value != op.value) value = op.value;
      ++result.written;
    } else if (next.erase(op.key) == 0) {
      result.missing.push_back(op.key);
    } else {
      ++result.written;
    }
  }
  if (next == **current) return result;
  s = ReplaceLocked(std::move(next));
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<MapEntry>> ReplacedMap::RemoveAtOrBefore(
    int64_t cutoff) {
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat(Prefix(), "opened read-only"));
  }
  absl::MutexLock l(&mu_);
  WriteLock lock;
  absl::Status s = lock.Take(path_, options_.lock_timeout);
  if (!s.ok()) return s;
  absl::StatusOr<const Entries*> current = LoadLocked();
  if (!current.ok()) return current.status();
  Entries next;
  std::vector<MapEntry> removed;
  for (const auto& [key, value] : **current) {
    absl::StatusOr<int64_t> ticks = ParseTicks(value, "value");
    if (ticks.ok() && *ticks <= cutoff) {
      removed.push_back({key, value});
    } else {
      next.emplace(key, value);
    }
  }
  if (removed.empty()) return removed;
  s = ReplaceLocked(std::move(next));
  if (!s.ok()) return s;
  return removed;
}

}  // namespace relaysync
