#include "agent/notify_drop_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/notify_client.h"
#include "agent/notify_message.h"
#include "common/logging.h"
#include "common/random_id.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

constexpr absl::string_view kSuffix = ".login";
constexpr absl::string_view kTempPrefix = ".tmp-";
// Files taken per pass: a flood of files is drained at a bounded pace.
constexpr size_t kMaxFilesPerPass = 1000;
// A temporary file this old belongs to a writer that died mid-way.
constexpr absl::Duration kStaleTemp = absl::Minutes(10);
// Of the notify command's time, the part it waits for the agent's answer;
// the rest is for the drop file.
constexpr double kSocketShare = 0.75;

std::string Errno(absl::string_view what, const std::string& path) {
  return absl::StrCat(what, " ", path, ": ", strerror(errno));
}

// Senders get write and search on the directory where the socket gives
// them write: enough to drop a file, not to list or read the others'.
mode_t DirMode(mode_t socket_mode) {
  mode_t mode = S_ISVTX | S_IRWXU;
  if (socket_mode & S_IWGRP) mode |= S_IWGRP | S_IXGRP;
  if (socket_mode & S_IWOTH) mode |= S_IWOTH | S_IXOTH;
  return mode;
}

}  // namespace

std::string DefaultNotifyDropDir(const std::string& socket_path) {
  return socket_path + ".d";
}

absl::Status WriteNotifyDropFile(const std::string& dir,
                                 const LocalLogin& login) {
  absl::StatusOr<std::string> line = FormatNotifyMessage(login);
  if (!line.ok()) return line.status();
  absl::StatusOr<std::string> random = RandomHexId();
  if (!random.ok()) return random.status();
  const std::string name =
      absl::StrCat(absl::ToUnixNanos(absl::Now()), "-", getpid(), "-",
                   random->substr(0, 16), kSuffix);
  const std::string temp = absl::StrCat(dir, "/", kTempPrefix, name);
  const std::string path = absl::StrCat(dir, "/", name);
  int fd = open(temp.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("notify drop directory ", dir,
                                               ": ", Errno("creating", temp)));
  }
  std::string error;
  if (write(fd, line->data(), line->size()) !=
      static_cast<ssize_t>(line->size())) {
    error = Errno("writing", temp);
  } else if (fsync(fd) != 0) {
    error = Errno("fsync", temp);
  }
  close(fd);
  if (error.empty() && rename(temp.c_str(), path.c_str()) != 0) {
    error = Errno("renaming", temp);
  }
  if (!error.empty()) {
    unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat("notify drop directory ", dir, ": ", error));
  }
  // The rename is durable only once the directory is.
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int rc = fsync(dir_fd);
    close(dir_fd);
    if (rc == 0) return absl::OkStatus();
  } else if (errno == EACCES) {
    // Senders get search without read on the directory, so they cannot
    // open it to fsync it: flush the file system the file is on instead
    // (this path runs only when the agent did not answer).
    int file_fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (file_fd >= 0) {
      const int rc = syncfs(file_fd);
      close(file_fd);
      if (rc == 0) return absl::OkStatus();
    }
  }
  return absl::UnavailableError(
      absl::StrCat("notify drop directory ", dir, ": ", Errno("fsync", dir)));
}

absl::Status NotifyDurably(const std::string& socket_path,
                           const std::string& drop_dir, const LocalLogin& login,
                           absl::Duration timeout) {
  absl::Status sent =
      SendNotifyConfirmed(socket_path, login, timeout * kSocketShare);
  // Refused by the agent: a file would be refused as well.
  if (sent.ok() || sent.code() == absl::StatusCode::kAborted ||
      sent.code() == absl::StatusCode::kInvalidArgument) {
    return sent;
  }
  absl::Status dropped = WriteNotifyDropFile(drop_dir, login);
  if (dropped.ok()) return dropped;
  return absl::UnavailableError(
      absl::StrCat(sent.message(), "; and ", dropped.message()));
}

NotifyDropDir::NotifyDropDir(Options options) : options_(std::move(options)) {}

NotifyDropDir::~NotifyDropDir() { Stop(); }

absl::Status NotifyDropDir::Start(Sink sink) {
  const std::string& dir = options_.dir;
  const std::string prefix = absl::StrCat("notify drop directory ", dir, ": ");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(prefix + strerror(errno));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return absl::UnavailableError(prefix + strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        prefix + "exists and is not a directory (a symlink?); move it away");
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix, "owned by uid ", st.st_uid, ", not by the agent (uid ",
        geteuid(), "); remove it and restart the agent"));
  }
  if (options_.group.has_value() &&
      chown(dir.c_str(), static_cast<uid_t>(-1), *options_.group) != 0) {
    return absl::UnavailableError(prefix + "chown: " + strerror(errno));
  }
  if (chmod(dir.c_str(), DirMode(options_.socket_mode)) != 0) {
    return absl::UnavailableError(prefix + "chmod: " + strerror(errno));
  }
  sink_ = std::move(sink);
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread("notify-dir");
    Run();
  });
  return absl::OkStatus();
}

void NotifyDropDir::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (!started_ || stop_) return;
    stop_ = true;
  }
  thread_.join();
}

void NotifyDropDir::Run() {
  absl::MutexLock l(&mu_);
  while (!stop_) {
    mu_.Unlock();
    Drain();
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
  }
}

void NotifyDropDir::Refuse(const std::string& name, absl::string_view why) {
  const uint64_t count = ++refused_;
  refuse_log_.Log(LogLevel::kWarning,
                  absl::StrCat("notify drop directory ", options_.dir,
                               ": removed ", absl::CHexEscape(name), ": ", why,
                               " (", count, " refused so far)"));
}

void NotifyDropDir::Drain() {
  const std::string& dir = options_.dir;
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return;  // logged at Start; it may come back
  DIR* d = fdopendir(dir_fd);
  if (d == nullptr) {
    close(dir_fd);
    return;
  }
  std::vector<std::string> names;
  const absl::Time now = options_.clock->Now();
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::StartsWith(name, kTempPrefix)) {
      struct stat st;
      if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          absl::FromTimeT(st.st_mtime) < now - kStaleTemp) {
        unlinkat(dir_fd, name.c_str(), 0);
      }
      continue;
    }
    if (!absl::EndsWith(name, kSuffix)) continue;
    names.push_back(name);
    if (names.size() == kMaxFilesPerPass) break;
  }
  // Oldest first (names start with the time): logins keep their order.
  std::sort(names.begin(), names.end());
  std::vector<LocalLogin> logins;
  std::vector<std::string> taken;
  for (const std::string& name : names) {
    int fd = openat(dir_fd, name.c_str(),
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP) {
        unlinkat(dir_fd, name.c_str(), 0);
        Refuse(name, "a symlink");
      }
      continue;
    }
    struct stat st;
    char buf[kMaxNotifyMessageBytes + 1];
    ssize_t n = -1;
    std::string why;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      why = "not a regular file";
    } else if (!options_.senders.Allows(st.st_uid, st.st_gid)) {
      why = absl::StrCat("owned by uid ", st.st_uid, " gid ", st.st_gid,
                         ", not an allowed sender (allowed: ",
                         options_.senders.ToString(), ")");
    } else if ((n = read(fd, buf, sizeof(buf))) < 0 ||
               static_cast<size_t>(n) > kMaxNotifyMessageBytes) {
      why = "unreadable or too long";
    }
    close(fd);
    if (why.empty()) {
      // The login happened when the file was written, but never later
      // than now: its owner cannot date it into the future.
      const int64_t when =
          std::min<int64_t>(st.st_mtime, absl::ToUnixSeconds(now));
      absl::StatusOr<LocalLogin> login = ParseNotifyMessage(
          absl::string_view(buf, static_cast<size_t>(n)), when);
      if (login.ok()) {
        logins.push_back(std::move(*login));
        taken.push_back(name);
        continue;
      }
      why = std::string(login.status().message());
    }
    unlinkat(dir_fd, name.c_str(), 0);
    Refuse(name, why);
  }
  // Removed only once the spool has them: a crash in between means the
  // login is taken twice, which the idempotent merge absorbs.
  if (!logins.empty() && sink_(logins).ok()) {
    for (const std::string& name : taken) unlinkat(dir_fd, name.c_str(), 0);
    taken_ += taken.size();
  }
  closedir(d);
}

}  // namespace relaysync
