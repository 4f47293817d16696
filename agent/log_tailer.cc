#include "agent/log_tailer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/crc32c.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

// Bounds one round of reading so Stop() and checkpoints are never starved by
// a fast writer; the next round starts at once.
constexpr size_t kMaxBytesPerRound = 1 << 20;
constexpr size_t kReadChunk = 64 * 1024;
// Bounds the search for a file rotated away while the agent was down.
constexpr int kMaxDirectoryEntries = 10000;

// How much of a file's head is fingerprinted (see TailState).
constexpr int64_t kHeadBytes = 64;

std::optional<uint32_t> HeadCrc(int fd, int64_t len) {
  char buf[kHeadBytes];
  if (len < 0 || len > kHeadBytes || pread(fd, buf, len, 0) != len) {
    return std::nullopt;
  }
  return Crc32c(absl::string_view(buf, static_cast<size_t>(len)));
}

// Whether the open file `fd` is the one `state` describes and still holds
// everything up to its offset.
bool IsSavedFile(int fd, const struct stat& st, const TailState& state) {
  return st.st_dev == state.device && st.st_ino == state.inode &&
         st.st_size >= state.offset &&
         (state.head_bytes == 0 ||
          HeadCrc(fd, state.head_bytes) == state.head_crc);
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

constexpr mode_t kWritableByOthers = S_IWGRP | S_IWOTH;

std::string WritableByOthersMessage(const std::string& path, mode_t mode) {
  return absl::StrCat("log ", path,
                      ": writable by users other than its owner (mode ",
                      absl::StrFormat("%04o", mode & 07777),
                      "), so any of them could write login lines into it; "
                      "refusing to read it (chmod go-w ",
                      path, ")");
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

LogTailer::LogTailer(Options options) : options_(std::move(options)) {}

LogTailer::~LogTailer() { Stop(); }

void LogTailer::Warn(const std::string& message) {
  // A persistent problem (an unreadable file) is retried every poll
  // interval: said once a minute while it lasts, with a count.
  trouble_log_.Log(LogLevel::kWarning,
                   absl::StrCat("log ", options_.path, ": ", message));
}

void LogTailer::Note(const std::string& message) {
  LogWarning("log ", options_.path, ": ", message);
}

bool LogTailer::RefusedAsWritable(mode_t mode) {
  if (!options_.refuse_writable_by_others || (mode & kWritableByOthers) == 0) {
    return false;
  }
  trouble_log_.Log(LogLevel::kWarning,
                   WritableByOthersMessage(options_.path, mode));
  distrusted_ = true;
  return true;
}

// Opens options_.path as current_. With `state` (same file, long enough)
// resumes there; otherwise at 0, or at the end when `from_end`. False if it
// cannot be opened (not existing yet is normal; other reasons are logged).
bool LogTailer::OpenCurrent(bool from_end, const TailState* state) {
  committed_offset_ = 0;
  committed_skip_ = false;
  int fd = open(options_.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT) Warn(strerror(errno));
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    Warn("not a regular file");
    close(fd);
    return false;
  }
  if (RefusedAsWritable(st.st_mode)) {
    close(fd);
    return false;
  }
  if (distrusted_) {
    // Lines written while others could write to the file prove nothing.
    from_end = true;
    state = nullptr;
    distrusted_ = false;
  }
  int64_t offset = 0;
  bool skip = false;
  bool resumed = state != nullptr && IsSavedFile(fd, st, *state);
  if (resumed) {
    offset = state->offset;
    skip = state->skip;
  } else if (from_end && st.st_size > 0) {
    offset = st.st_size;
    // Starting in the middle of a line would deliver its tail as a line.
    char last = '\n';
    skip = pread(fd, &last, 1, offset - 1) == 1 && last != '\n';
  }
  if (lseek(fd, offset, SEEK_SET) != offset) {
    Warn(absl::StrCat("lseek: ", strerror(errno)));
    close(fd);
    return false;
  }
  current_ = Reader{fd, st.st_dev, st.st_ino, offset, "", skip};
  delivered_offset_.store(offset, std::memory_order_relaxed);
  delivered_inode_.store(st.st_ino, std::memory_order_relaxed);
  if (resumed) {
    current_.head_bytes = state->head_bytes;
    current_.head_crc = state->head_crc;
  }
  committed_offset_ = offset;
  committed_skip_ = skip;
  if (inotify_fd_ >= 0) {
    if (file_watch_ >= 0) inotify_rm_watch(inotify_fd_, file_watch_);
    file_watch_ =
        inotify_add_watch(inotify_fd_, options_.path.c_str(), IN_MODIFY);
  }
  return true;
}

// The saved file is no longer at the path: if it was only renamed next to
// it, finish reading it from the saved offset.
void LogTailer::OpenRotatedAway(const TailState& state) {
  const std::string dir = DirectoryOf(options_.path);
  const std::string base = BaseName(options_.path);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  struct dirent* entry;
  for (int i = 0; i < kMaxDirectoryEntries && (entry = readdir(d)) != nullptr;
       ++i) {
    std::string name = entry->d_name;
    if (name == base || !absl::StartsWith(name, base)) continue;
    struct stat st;
    if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_dev != state.device ||
        st.st_ino != state.inode) {
      continue;
    }
    std::string path = dir + "/" + name;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && (st.st_mode & kWritableByOthers) == 0 &&
        IsSavedFile(fd, st, state) &&
        lseek(fd, state.offset, SEEK_SET) == state.offset) {
      Note(absl::StrCat("rotated while stopped; finishing ", path,
                        " from offset ", state.offset));
      old_ = Reader{fd, st.st_dev, st.st_ino, state.offset, "", state.skip};
      old_deadline_ = std::chrono::steady_clock::now() +
                      absl::ToChronoNanoseconds(options_.rotation_grace);
    } else if (fd >= 0) {
      close(fd);
    }
    break;
  }
  closedir(d);
}

void LogTailer::Close(Reader* reader) {
  if (reader->fd >= 0) close(reader->fd);
  if (!reader->pending.empty()) {
    Note(absl::StrCat("dropping an unterminated last line of ",
                      reader->pending.size(), " bytes of a rotated file"));
  }
  *reader = Reader();
}

absl::Status LogTailer::Start(LineCallback callback) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_) {
    return absl::FailedPreconditionError(
        absl::StrCat("log ", options_.path, ": tailer started twice"));
  }
  struct stat path_st;
  if (options_.refuse_writable_by_others &&
      stat(options_.path.c_str(), &path_st) == 0 &&
      (path_st.st_mode & kWritableByOthers) != 0) {
    return absl::FailedPreconditionError(
        WritableByOthersMessage(options_.path, path_st.st_mode));
  }
  std::optional<TailState> state;
  if (!options_.state_path.empty()) {
    absl::StatusOr<std::optional<TailState>> loaded =
        LoadTailState(options_.state_path);
    // Written by rename, so damage is not a torn write: start as if new
    // rather than refuse to run.
    if (!loaded.ok()) {
      Note(absl::StrCat("ignoring ", loaded.status().message()));
    }
    if (loaded.ok() && loaded->has_value() &&
        (*loaded)->log_path == options_.path) {
      state = **loaded;
    }
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("log ", options_.path, ": eventfd: ", strerror(errno)));
  }
  inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  std::string dir = DirectoryOf(options_.path);
  if (inotify_fd_ < 0) {
    Note(absl::StrCat("inotify: ", strerror(errno), "; polling only"));
  } else if (inotify_add_watch(
                 inotify_fd_, dir.c_str(),
                 IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
    Note(absl::StrCat("cannot watch ", dir, ": ", strerror(errno),
                      "; polling only"));
  }
  // Without saved state, history is not replayed; with state, a file that is
  // not the saved one appeared while we were down and is read from 0.
  OpenCurrent(/*from_end=*/!state, state ? &*state : nullptr);
  if (state && state->inode != 0 &&
      (current_.device != state->device || current_.inode != state->inode)) {
    OpenRotatedAway(*state);
  }
  callback_ = std::move(callback);
  started_ = true;
  // Record the start position at once: a crash before the first checkpoint
  // must not turn into "no state, start at the end" and skip lines.
  Checkpoint(/*force=*/true);
  thread_ = std::thread([this] {
    NameThisThread("log-tail");
    Run();
  });
  return absl::OkStatus();
}

void LogTailer::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  stop_.store(true);
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // The poll timeout still bounds the wait.
  }
  thread_.join();
  Checkpoint(/*force=*/true);
  current_.pending.clear();  // not a rotated file: no warning
  Close(&current_);
  Close(&old_);
  if (inotify_fd_ >= 0) close(inotify_fd_);
  close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

int64_t LogTailer::LagBytes() const {
  struct stat st;
  if (stat(options_.path.c_str(), &st) != 0) return 0;
  if (static_cast<uint64_t>(st.st_ino) !=
      delivered_inode_.load(std::memory_order_relaxed)) {
    return st.st_size;
  }
  return std::max<int64_t>(
      0, st.st_size - delivered_offset_.load(std::memory_order_relaxed));
}

void LogTailer::Run() {
  bool more = false;
  while (!stop_.load()) {
    Round(&more);
    Checkpoint(/*force=*/false);
    if (stop_.load()) break;
    WaitForEvents(/*immediate=*/more);
  }
}

void LogTailer::WaitForEvents(bool immediate) {
  struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  int timeout_ms =
      immediate
          ? 0
          : static_cast<int>(absl::ToInt64Milliseconds(options_.poll_interval));
  if (poll(fds, inotify_fd_ >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR) {
    // Not expected with our own descriptors; still, never spin on it.
    Warn(absl::StrCat("poll: ", strerror(errno)));
    absl::SleepFor(absl::Milliseconds(timeout_ms));
  }
  if (inotify_fd_ < 0) return;
  // The events only say "look again"; Round() decides by stat, so coalesced
  // or overflowed events are harmless.
  alignas(struct inotify_event) char buf[4096];
  for (int i = 0; i < 64 && read(inotify_fd_, buf, sizeof(buf)) > 0; ++i) {
  }
}

void LogTailer::Round(bool* more) {
  *more = false;
  const auto now = std::chrono::steady_clock::now();
  if (old_.fd >= 0) {
    ReadAvailable(&old_, more);
    if (!*more && now >= old_deadline_) Close(&old_);
  }
  if (current_.fd < 0 && !OpenCurrent(/*from_end=*/false, nullptr)) return;
  // stat the path before draining the current file: whatever was written to
  // it before a rename is then read before switching.
  struct stat path_st;
  bool rotated =
      stat(options_.path.c_str(), &path_st) == 0 &&
      (path_st.st_ino != current_.inode || path_st.st_dev != current_.device);
  struct stat fd_st;
  const bool have_fd_st = fstat(current_.fd, &fd_st) == 0;
  if (have_fd_st && RefusedAsWritable(fd_st.st_mode)) {
    current_.pending.clear();
    Close(&current_);
    return;
  }
  if (have_fd_st && fd_st.st_size < current_.read_offset &&
      lseek(current_.fd, 0, SEEK_SET) == 0) {
    Note("truncated; reading from the start");
    current_.read_offset = committed_offset_ = 0;
    delivered_offset_.store(0, std::memory_order_relaxed);
    current_.pending.clear();
    current_.discarding = committed_skip_ = false;
    current_.head_bytes = 0;
  }
  bool current_more = false;
  ReadAvailable(&current_, &current_more);
  *more = *more || current_more;
  if (rotated && !current_more) {
    Close(&old_);
    old_ = std::move(current_);
    current_ = Reader();
    old_deadline_ = now + absl::ToChronoNanoseconds(options_.rotation_grace);
    OpenCurrent(/*from_end=*/false, nullptr);
    *more = true;
  }
}

void LogTailer::ReadAvailable(Reader* reader, bool* more) {
  char buf[kReadChunk];
  size_t total = 0;
  while (total < kMaxBytesPerRound) {
    ssize_t n = read(reader->fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Warn(absl::StrCat("read: ", strerror(errno)));
      return;
    }
    if (n == 0) return;
    total += static_cast<size_t>(n);
    Consume(reader, absl::string_view(buf, static_cast<size_t>(n)));
  }
  *more = true;
}

// Splits `data` into lines, delivering each complete one; the offset that
// may be saved advances only past lines whose callback has returned.
void LogTailer::Consume(Reader* reader, absl::string_view data) {
  const size_t max = options_.max_line_bytes;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    size_t take = nl == absl::string_view::npos ? data.size() : nl + 1;
    absl::string_view piece = data.substr(0, take);
    data.remove_prefix(take);
    reader->read_offset += static_cast<int64_t>(take);
    if (nl == absl::string_view::npos) {
      if (reader->discarding) continue;
      reader->pending.append(piece.data(), piece.size());
      if (reader->pending.size() > max) {
        Note(absl::StrCat("dropping a line longer than ", max, " bytes"));
        reader->pending.clear();
        reader->discarding = true;
      }
      continue;
    }
    piece.remove_suffix(1);
    if (!reader->discarding && reader->pending.size() + piece.size() > max) {
      Note(absl::StrCat("dropping a line longer than ", max, " bytes"));
    } else if (!reader->discarding && reader->pending.empty()) {
      callback_(piece);
    } else if (!reader->discarding) {
      reader->pending.append(piece.data(), piece.size());
      callback_(reader->pending);
    }
    reader->pending.clear();
    reader->discarding = false;
    if (reader != &current_) continue;
    ++lines_since_checkpoint_;
    committed_offset_ = reader->read_offset;
    delivered_offset_.store(committed_offset_, std::memory_order_relaxed);
    committed_skip_ = false;
    if (lines_since_checkpoint_ >= options_.checkpoint_lines) {
      Checkpoint(/*force=*/false);
    }
  }
}

void LogTailer::Checkpoint(bool force) {
  if (options_.state_path.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && lines_since_checkpoint_ < options_.checkpoint_lines &&
      now - last_checkpoint_ <
          absl::ToChronoNanoseconds(options_.checkpoint_interval)) {
    return;
  }
  if (current_.fd >= 0 && current_.head_bytes < kHeadBytes &&
      committed_offset_ > current_.head_bytes) {
    int64_t len = std::min(kHeadBytes, committed_offset_);
    std::optional<uint32_t> crc = HeadCrc(current_.fd, len);
    if (crc) {
      current_.head_bytes = len;
      current_.head_crc = *crc;
    }
  }
  TailState state{options_.path,
                  static_cast<uint64_t>(current_.device),
                  static_cast<uint64_t>(current_.inode),
                  committed_offset_,
                  committed_skip_,
                  current_.head_bytes,
                  current_.head_crc};
  if (have_saved_ && state.device == saved_.device &&
      state.inode == saved_.inode && state.offset == saved_.offset &&
      state.skip == saved_.skip && state.head_bytes == saved_.head_bytes) {
    return;
  }
  absl::Status status = SaveTailState(options_.state_path, state);
  last_checkpoint_ = now;
  if (!status.ok()) {
    Warn(absl::StrCat("saving position: ", status.message()));
    return;
  }
  lines_since_checkpoint_ = 0;
  saved_ = state;
  have_saved_ = true;
}

}  // namespace relaysync
