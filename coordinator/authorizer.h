// Authorizer: decides, for every call, whether the caller's verified client
// certificate grants the role the call needs (AccessPolicy), and logs and
// audits every refusal with the caller's identity and address. The policy
// file is re-read when it changes (checked at most once a second) and on
// Reload() (SIGHUP); a policy file that no longer parses keeps the last good
// policy. With --insecure there are no identities and every call is allowed.
#ifndef RELAYSYNC_COORDINATOR_AUTHORIZER_H_
#define RELAYSYNC_COORDINATOR_AUTHORIZER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/access_policy.h"
#include "coordinator/audit_log.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/rate_limiter.h"

namespace grpc {
class ServerContextBase;
class Status;
}  // namespace grpc

namespace relaysync {

struct AuthorizerOptions {
  bool insecure = false;  // every caller may do everything
  std::string trust_domain = "relaysync";
  std::string policy_file;  // empty: AccessPolicy::Default(trust_domain)
  // Per identity: calls (Admin calls and Sync stream starts) per second,
  // and Sync streams open at once (an agent needs one; two while it
  // reconnects). Not applied with `insecure`: there are no identities.
  RateLimit calls = {100, 1000};
  int max_streams = 4;
};

// Who is calling, once authorized.
struct Caller {
  std::string identity;  // the certificate's SPIFFE URI; empty if insecure
  std::string peer;      // gRPC's peer address string
  Grant grant;
  bool insecure = false;
};

class Authorizer {
 public:
  // Reads the policy file. `audit` is not owned and must outlive this.
  // Refusals decided here are counted in `refusals`.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Open(
      const AuthorizerOptions& options, AuditLog* audit,
      Refusals refusals = Refusals());

  // OK when the caller holds `role` and is within its calls per second;
  // fills `caller`. Otherwise UNAUTHENTICATED (no usable identity),
  // PERMISSION_DENIED naming the identity and the role it lacks, or
  // RESOURCE_EXHAUSTED, after logging and auditing `action`.
  grpc::Status Check(const grpc::ServerContextBase& context, Role role,
                     absl::string_view action, Caller* caller);
  // An agent's Hello: OK when `host_id` is the one its identity names.
  grpc::Status CheckHostId(const Caller& caller, absl::string_view host_id);
  // Writes a refusal decided elsewhere (a limit) to the log and the audit.
  void Refused(const Caller& caller, absl::string_view action,
               absl::string_view why);
  // Re-reads the policy file now (SIGHUP).
  void Reload();

  AuditLog* audit() const { return audit_; }
  // Where every refusal is counted, also those decided elsewhere.
  const Refusals& refusals() const { return refusals_; }
  bool insecure() const { return options_.insecure; }
  int max_streams() const { return options_.max_streams; }

 private:
  Authorizer(const AuthorizerOptions& options, AuditLog* audit,
             Refusals refusals, AccessPolicy policy)
      : options_(options),
        audit_(audit),
        refusals_(refusals),
        calls_(options.calls),
        policy_(std::move(policy)) {}
  // Re-reads the file when its mtime or inode moved, at most once a second.
  void MaybeReload();
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AuthorizerOptions options_;
  AuditLog* const audit_;
  const Refusals refusals_;
  RateLimiter calls_;
  absl::Mutex mu_;
  AccessPolicy policy_ ABSL_GUARDED_BY(mu_);
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  struct timespec mtime_ ABSL_GUARDED_BY(mu_) = {};
  ino_t inode_ ABSL_GUARDED_BY(mu_) = 0;
};

// Reads a policy file (for Open, Reload and tests).
absl::StatusOr<AccessPolicy> ReadPolicyFile(const std::string& path);

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_AUTHORIZER_H_
