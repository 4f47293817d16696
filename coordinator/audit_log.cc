#include "coordinator/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "common/logging.h"

namespace relaysync {
namespace {

absl::StatusOr<int> OpenFile(const std::string& path) {
  if (path.empty() || path == "-") return STDERR_FILENO;
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit log ", path, ": ", std::strerror(errno)));
  }
  return fd;
}

void AppendString(std::string* out, absl::string_view key,
                  absl::string_view value) {
  absl::StrAppend(out, ",\"", key, "\":");
  AppendJsonString(out, value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path, const Clock* clock) {
  absl::StatusOr<int> fd = OpenFile(path);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<AuditLog> log(new AuditLog(path, clock));
  absl::MutexLock l(&log->mu_);
  log->fd_ = *fd;
  return log;
}

AuditLog::~AuditLog() {
  absl::MutexLock l(&mu_);
  if (fd_ > STDERR_FILENO) close(fd_);
}

void AuditLog::Write(const AuditRecord& r) {
  std::string line =
      absl::StrCat("{\"time\":\"",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                    absl::FromUnixSeconds(clock_->NowSeconds()),
                                    absl::UTCTimeZone()),
                   "\"");
  AppendString(&line, "identity", r.identity);
  AppendString(&line, "peer", r.peer);
  AppendString(&line, "action", r.action);
  line += ",\"addresses\":[";
  for (size_t i = 0; i < r.addresses.size(); ++i) {
    if (i > 0) line += ",";
    AppendJsonString(&line, r.addresses[i]);
  }
  line += "]";
  AppendString(&line, "result", r.result);
  if (!r.detail.empty()) AppendString(&line, "detail", r.detail);
  line += "}\n";
  absl::MutexLock l(&mu_);
  // O_APPEND: one write() per line keeps lines whole across writers.
  if (write(fd_, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    LogWarning("audit log ", path_.empty() ? "(stderr)" : path_,
               ": write failed: ", std::strerror(errno));
  }
}

absl::Status AuditLog::Reopen() {
  if (path_.empty() || path_ == "-") return absl::OkStatus();
  absl::StatusOr<int> fd = OpenFile(path_);
  if (!fd.ok()) return fd.status();
  absl::MutexLock l(&mu_);
  close(fd_);
  fd_ = *fd;
  return absl::OkStatus();
}

}  // namespace relaysync
