#include "agent/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/atomic_file.h"
#include "agent/private_dir.h"
#include "agent/spool_record.h"
#include "common/logging.h"

namespace relaysync {
namespace {

// Keeps each ack record well under kMaxSpoolRecordBytes.
constexpr size_t kMaxIdsPerAckRecord = 10000;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  int err = errno;
  return absl::Status(
      absl::ErrnoToStatusCode(err),
      absl::StrCat("spool ", path, ": ", what, ": ", strerror(err)));
}

// Writes all of `bytes` to `fd` at its end.
bool WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Spool::Spool(std::string dir, std::string host_id, const SpoolOptions& options)
    : dir_(std::move(dir)),
      host_id_(std::move(host_id)),
      options_(options),
      path_(dir_ + "/" + kFileName) {}

Spool::~Spool() {
  if (fd_ >= 0) close(fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(
    const std::string& dir, const std::string& host_id,
    const SpoolOptions& options) {
  if (host_id.empty()) {
    return absl::InvalidArgumentError("spool: host id is empty");
  }
  absl::Status private_dir = MakePrivateDirectory(dir);
  if (!private_dir.ok()) return private_dir;
  std::unique_ptr<Spool> spool(new Spool(dir, host_id, options));
  std::string lock_path = dir + "/" + kLockName;
  spool->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (spool->lock_fd_ < 0) return ErrnoError("open", lock_path);
  if (flock(spool->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoError("flock", lock_path);
    return absl::FailedPreconditionError(
        absl::StrCat("spool ", dir, ": in use by another process (", lock_path,
                     " is locked)"));
  }
  if (access(spool->path_.c_str(), F_OK) != 0) {
    // Created whole (header included) by rename, so a file without a valid
    // header is never ours and is refused rather than overwritten.
    std::string bytes;
    AppendSpoolRecord(SpoolRecordType::kHeader, EncodeSpoolHeader(1), &bytes);
    absl::Status status = WriteFileAtomically(spool->path_, bytes);
    if (!status.ok()) return status;
  }
  absl::MutexLock lock(&spool->mu_);
  absl::Status status = spool->Replay();
  if (!status.ok()) return status;
  spool->fd_ = open(spool->path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (spool->fd_ < 0) return ErrnoError("open", spool->path_);
  spool->DropOldestLocked();
  spool->MaybeCompactLocked();
  return spool;
}

absl::Status Spool::Replay() {
  FILE* file = fopen(path_.c_str(), "rb");
  if (file == nullptr) return ErrnoError("open", path_);
  SpoolRecordReader reader(file);
  SpoolRecordType type;
  std::string payload;
  SpoolRecordReader::Result result;
  bool have_header = false;
  uint64_t last_add_seq = 0;
  absl::Status status;
  while ((result = reader.Next(&type, &payload)) ==
         SpoolRecordReader::Result::kRecord) {
    uint64_t seq = 0;
    SpooledLogin entry;
    std::vector<std::string> ids;
    bool ok = false;
    if (!have_header) {
      // Numbers start at 1, and the last one, never issued, stays free so
      // that seq + 1 cannot wrap.
      ok = type == SpoolRecordType::kHeader &&
           DecodeSpoolHeader(payload, &next_seq_) && next_seq_ > 0;
      have_header = ok;
    } else if (type == SpoolRecordType::kAdd) {
      // Appends and compaction write adds in increasing sequence order,
      // each id ending in "/<seq>" (the host id before it may have been
      // renamed since). Anything else would let one id name two logins,
      // or a new id repeat an old one.
      ok = DecodeSpoolAdd(payload, &seq, &entry.event_id, &entry.login) &&
           seq > last_add_seq && seq < UINT64_MAX &&
           absl::EndsWith(entry.event_id, absl::StrCat("/", seq));
      if (ok) {
        last_add_seq = seq;
        next_seq_ = std::max(next_seq_, seq + 1);
        entry.sequence = seq;
        index_[entry.event_id] = seq;
        pending_[seq] = std::move(entry);
      }
    } else if (type == SpoolRecordType::kAck) {
      ok = DecodeSpoolAck(payload, &ids);
      for (const std::string& id : ids) {
        auto it = index_.find(id);
        if (it == index_.end()) continue;
        pending_.erase(it->second);
        index_.erase(it);
        ++dead_;
      }
    }
    if (!ok) {
      // The checksum was right, so this is not a torn write: a bug or a
      // newer format. Keep the file for inspection.
      status = absl::DataLossError(absl::StrCat(
          "spool ", path_, ": undecodable record at offset ",
          reader.valid_end() -
              static_cast<int64_t>(kSpoolFrameBytes + payload.size()),
          have_header ? "" : " (not a spool file?)"));
      break;
    }
  }
  fclose(file);
  if (!status.ok()) return status;
  if (!have_header) {
    return absl::DataLossError(
        absl::StrCat("spool ", path_, ": no valid header (not a spool file?)"));
  }
  file_size_ = reader.valid_end();
  if (result == SpoolRecordReader::Result::kTorn) {
    struct stat st;
    int64_t size = stat(path_.c_str(), &st) == 0 ? st.st_size : -1;
    LogWarning("spool ", path_, ": ignoring a torn or corrupt tail of ",
               size - file_size_, " bytes after offset ", file_size_,
               " (crash during a write?)");
    // Cut it off so new records do not follow garbage.
    if (truncate(path_.c_str(), file_size_) != 0) {
      return ErrnoError("truncate", path_);
    }
  }
  return absl::OkStatus();
}

absl::Status Spool::WriteRecords(const std::string& bytes, bool sync) {
  if (broken_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spool ", path_, ": disabled after an earlier write error"));
  }
  bool ok = WriteAll(fd_, bytes);
  if (ok && (!sync || fdatasync(fd_) == 0)) {
    file_size_ += static_cast<int64_t>(bytes.size());
    return absl::OkStatus();
  }
  absl::Status status = ErrnoError(ok ? "fdatasync" : "write", path_);
  // Roll back a partial write so that later records do not follow it.
  if (ftruncate(fd_, file_size_) != 0 || fdatasync(fd_) != 0) broken_ = true;
  return status;
}

absl::StatusOr<std::vector<SpooledLogin>> Spool::Append(
    const std::vector<LocalLogin>& logins) {
  absl::MutexLock lock(&mu_);
  if (logins.size() > UINT64_MAX - next_seq_) {
    // Only a doctored spool file gets here (2^64 logins would take ages).
    return absl::ResourceExhaustedError(
        absl::StrCat("spool ", path_, ": sequence numbers exhausted"));
  }
  std::vector<std::pair<uint64_t, SpooledLogin>> added;
  std::string bytes;
  uint64_t seq = next_seq_;
  for (const LocalLogin& login : logins) {
    SpooledLogin entry{absl::StrCat(host_id_, "/", seq), login, seq};
    AppendSpoolRecord(SpoolRecordType::kAdd,
                      EncodeSpoolAdd(seq, entry.event_id, login), &bytes);
    added.emplace_back(seq++, std::move(entry));
  }
  if (added.empty()) return std::vector<SpooledLogin>();
  absl::Status status = WriteRecords(bytes, /*sync=*/true);
  // Numbers are never handed out twice, even those of a failed write.
  next_seq_ = seq;
  if (!status.ok()) return status;
  std::vector<SpooledLogin> result;
  result.reserve(added.size());
  for (auto& [s, entry] : added) {
    result.push_back(entry);
    index_[entry.event_id] = s;
    pending_.emplace(s, std::move(entry));
  }
  DropOldestLocked();
  return result;
}

void Spool::DropOldestLocked() {
  if (pending_.size() <= options_.max_pending) return;
  size_t excess = pending_.size() - options_.max_pending;
  std::vector<std::string> ids;
  ids.reserve(excess);
  for (auto it = pending_.begin(); ids.size() < excess; ++it) {
    ids.push_back(it->second.event_id);
  }
  LogWarning("spool ", path_, ": more than ", options_.max_pending,
             " logins pending (coordinator unreachable?); dropping the ",
             excess, " oldest, ", ids.front(), " .. ", ids.back());
  absl::Status status = AckLocked(ids).status();
  if (!status.ok()) LogWarning(status.message());
}

absl::StatusOr<std::vector<SpooledLogin>> Spool::Ack(
    const std::vector<std::string>& event_ids) {
  absl::MutexLock lock(&mu_);
  return AckLocked(event_ids);
}

absl::StatusOr<std::vector<SpooledLogin>> Spool::AckLocked(
    const std::vector<std::string>& event_ids) {
  std::vector<std::string> known;
  for (const std::string& id : event_ids) {
    auto it = index_.find(id);
    // `known` is small compared to pending; a repeated id is written twice,
    // which replay tolerates.
    if (it != index_.end()) known.push_back(id);
  }
  std::vector<SpooledLogin> retired;
  if (known.empty()) return retired;
  std::string bytes;
  for (size_t i = 0; i < known.size(); i += kMaxIdsPerAckRecord) {
    size_t end = std::min(known.size(), i + kMaxIdsPerAckRecord);
    std::vector<std::string> chunk(known.begin() + i, known.begin() + end);
    AppendSpoolRecord(SpoolRecordType::kAck, EncodeSpoolAck(chunk), &bytes);
  }
  // No fdatasync: an ack lost in a power failure only makes the agent
  // re-send logins the coordinator already has, which merging ignores;
  // the next Append's fdatasync flushes it anyway. This halves the
  // spool's fsyncs under load.
  absl::Status status = WriteRecords(bytes, /*sync=*/false);
  if (!status.ok()) return status;
  retired.reserve(known.size());
  for (const std::string& id : known) {
    auto it = index_.find(id);
    if (it == index_.end()) continue;  // repeated in `event_ids`
    auto entry = pending_.find(it->second);
    retired.push_back(std::move(entry->second));
    pending_.erase(entry);
    index_.erase(it);
    ++dead_;
  }
  MaybeCompactLocked();
  return retired;
}

void Spool::MaybeCompactLocked() {
  if (dead_ < options_.compact_min_dead || dead_ < pending_.size()) return;
  absl::Status status = CompactLocked();
  // The old file is still complete and in use; try again after more acks.
  if (!status.ok()) LogWarning("compaction failed: ", status.message());
}

// Writes header + pending adds to a new file and renames it over the old
// one; the new descriptor replaces fd_ only once the rename is durable.
absl::Status Spool::CompactLocked() {
  std::string tmp = path_ + ".compact";
  int fd = open(tmp.c_str(),
                O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("open", tmp);
  std::string bytes;
  AppendSpoolRecord(SpoolRecordType::kHeader, EncodeSpoolHeader(next_seq_),
                    &bytes);
  int64_t size = 0;
  bool ok = true;
  for (auto it = pending_.begin(); ok && it != pending_.end(); ++it) {
    AppendSpoolRecord(
        SpoolRecordType::kAdd,
        EncodeSpoolAdd(it->first, it->second.event_id, it->second.login),
        &bytes);
    if (bytes.size() >= (1 << 20)) {
      ok = WriteAll(fd, bytes);
      size += static_cast<int64_t>(bytes.size());
      bytes.clear();
    }
  }
  ok = ok && WriteAll(fd, bytes);
  size += static_cast<int64_t>(bytes.size());
  if (!ok || fsync(fd) != 0 || rename(tmp.c_str(), path_.c_str()) != 0) {
    absl::Status status = ErrnoError("writing compacted copy", tmp);
    close(fd);
    unlink(tmp.c_str());
    return status;
  }
  close(fd_);
  fd_ = fd;
  file_size_ = size;
  dead_ = 0;
  return SyncDirectoryOf(path_);
}

std::vector<SpooledLogin> Spool::Pending(size_t limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<SpooledLogin> result;
  result.reserve(std::min(limit, pending_.size()));
  for (auto it = pending_.begin();
       it != pending_.end() && result.size() < limit; ++it) {
    result.push_back(it->second);
  }
  return result;
}

size_t Spool::pending_count() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

}  // namespace relaysync
