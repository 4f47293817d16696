// Transport security of a benchmark's processes: mutual TLS with
// certificates that scripts/make-certs.sh makes in the work directory (as
// a deployment would run), or --insecure, so both can be measured side by
// side (--tls).
#ifndef RELAYSYNC_BENCH_BENCH_TLS_H_
#define RELAYSYNC_BENCH_BENCH_TLS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rpc/tls.h"

namespace relaysync::bench {

class BenchTls {
 public:
  // With `enabled`, makes a CA, a coordinator certificate for 127.0.0.1 and
  // one agent certificate per name in `agents`, in `dir`.
  static absl::StatusOr<BenchTls> Make(bool enabled, const std::string& dir,
                                       const std::vector<std::string>& agents);

  // Flags for relaysync-coordinator and for relaysync-agent `host`.
  std::vector<std::string> CoordinatorFlags() const;
  std::vector<std::string> AgentFlags(const std::string& host) const;
  // Client credentials of agent `host` (for in-process streams).
  TlsFiles Agent(const std::string& host) const;
  bool enabled() const { return enabled_; }

 private:
  bool enabled_ = false;
  std::string dir_;
};

}  // namespace relaysync::bench

#endif  // RELAYSYNC_BENCH_BENCH_TLS_H_
