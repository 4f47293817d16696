// The audit trail: one JSON object per line for every admin change and
// every refusal, e.g.
//   {"time":"2026-12-02T01:02:03Z","identity":"spiffe://relaysync/admin/alice",
//    "peer":"ipv4:10.0.0.5:40522","action":"add","addresses":["192.0.2.7"],
//    "result":"ok"}
// to a file (appended; Reopen() after logrotate moved it, on SIGHUP) or to
// stderr. Safe from any thread; a line is written whole or not at all.
#ifndef RELAYSYNC_COORDINATOR_AUDIT_LOG_H_
#define RELAYSYNC_COORDINATOR_AUDIT_LOG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace relaysync {

struct AuditRecord {
  std::string identity;  // empty: unauthenticated (--insecure)
  std::string peer;      // gRPC's peer string
  std::string action;    // add, delete, expire, sync, list, status, ...
  std::vector<std::string> addresses;
  std::string result;  // "ok" or the refusal / error
  std::string detail;  // optional, e.g. "future ticks 4102444800"
};

class AuditLog {
 public:
  // `path` empty or "-": stderr. The file is created 0600.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                        const Clock* clock);
  ~AuditLog();

  void Write(const AuditRecord& record);
  // Opens the path again (after logrotate); keeps the old file on error.
  absl::Status Reopen();

 private:
  AuditLog(std::string path, const Clock* clock) : path_(path), clock_(clock) {}

  const std::string path_;
  const Clock* const clock_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_AUDIT_LOG_H_
