#include "coordinator/authorizer.h"

#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"

namespace relaysync {
namespace {

// The caller's SPIFFE identity: the one spiffe:// URI SAN of its verified
// certificate. Empty (with `why`) when there is none or more than one.
std::string IdentityOf(const grpc::ServerContextBase& context,
                       std::string* why) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    *why = "no verified client certificate";
    return "";
  }
  std::vector<std::string> found;
  for (const grpc::string_ref& uri : auth->FindPropertyValues("peer_uri")) {
    std::string text(uri.data(), uri.size());
    if (absl::StartsWith(text, "spiffe://")) found.push_back(std::move(text));
  }
  if (found.size() != 1) {
    *why = found.empty()
               ? "the client certificate has no spiffe:// URI SAN"
               : "the client certificate has several spiffe:// URI SANs";
    return "";
  }
  return found[0];
}

}  // namespace

absl::StatusOr<AccessPolicy> ReadPolicyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy file ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return AccessPolicy::Parse(text.str(), path);
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Open(
    const AuthorizerOptions& options, AuditLog* audit, Refusals refusals) {
  std::unique_ptr<Authorizer> a(new Authorizer(
      options, audit, refusals, AccessPolicy::Default(options.trust_domain)));
  if (!options.policy_file.empty()) {
    absl::MutexLock l(&a->mu_);
    if (absl::Status s = a->LoadLocked(); !s.ok()) return s;
  }
  return a;
}

absl::Status Authorizer::LoadLocked() {
  struct stat st;
  if (stat(options_.policy_file.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy file ", options_.policy_file, ": ", std::strerror(errno)));
  }
  absl::StatusOr<AccessPolicy> policy = ReadPolicyFile(options_.policy_file);
  if (!policy.ok()) return policy.status();
  policy_ = std::move(*policy);
  mtime_ = st.st_mtim;
  inode_ = st.st_ino;
  LogInfo("policy ", options_.policy_file, ": ", policy_.rules(), " rule(s)");
  return absl::OkStatus();
}

void Authorizer::Reload() {
  if (options_.policy_file.empty()) return;
  absl::MutexLock l(&mu_);
  if (absl::Status s = LoadLocked(); !s.ok()) {
    LogError(s.message(), " (keeping the previous policy)");
  }
}

void Authorizer::MaybeReload() {
  if (options_.policy_file.empty()) return;
  absl::MutexLock l(&mu_);
  const absl::Time now = absl::Now();
  if (now - checked_at_ < absl::Seconds(1)) return;
  checked_at_ = now;
  struct stat st;
  if (stat(options_.policy_file.c_str(), &st) != 0) return;  // kept
  if (st.st_ino == inode_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec) {
    return;
  }
  if (absl::Status s = LoadLocked(); !s.ok()) {
    LogError(s.message(), " (keeping the previous policy)");
    mtime_ = st.st_mtim;  // not again until it changes again
    inode_ = st.st_ino;
  }
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context,
                               Role role, absl::string_view action,
                               Caller* caller) {
  caller->peer = context.peer();
  if (options_.insecure) {
    caller->insecure = true;
    caller->grant.roles = ~0u;
    return grpc::Status::OK;
  }
  std::string why;
  caller->identity = IdentityOf(context, &why);
  if (caller->identity.empty()) {
    refusals_.Count(Refusal::kUnauthenticated);
    Refused(*caller, action, why);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat(action, ": ", why));
  }
  MaybeReload();
  {
    absl::MutexLock l(&mu_);
    caller->grant = policy_.For(caller->identity);
  }
  if (!caller->grant.Has(role)) {
    const std::string message =
        absl::StrCat(action, ": ", caller->identity, " lacks the role ",
                     RoleName(role), " (see the coordinator's policy)");
    refusals_.Count(Refusal::kPermission);
    Refused(*caller, action, message);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
  }
  if (!calls_.Admit(caller->identity, 1, absl::Now())) {
    const std::string message =
        absl::StrCat(action, ": ", caller->identity, " is over its limit of ",
                     options_.calls.per_second, " calls/s (burst ",
                     options_.calls.burst, "); retry later");
    refusals_.Count(Refusal::kCallRate);
    Refused(*caller, action, message);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, message);
  }
  return grpc::Status::OK;
}

grpc::Status Authorizer::CheckHostId(const Caller& caller,
                                     absl::string_view host_id) {
  if (caller.insecure || caller.grant.host_id == host_id) {
    return grpc::Status::OK;
  }
  const std::string message = absl::StrCat(
      "hello.host_id: ", caller.identity, " may sync only as host id \"",
      caller.grant.host_id, "\", not \"", host_id, "\"");
  refusals_.Count(Refusal::kHostId);
  Refused(caller, "sync", message);
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
}

void Authorizer::Refused(const Caller& caller, absl::string_view action,
                         absl::string_view why) {
  LogWarning("refused ", action, " from ",
             caller.identity.empty() ? "(no identity)" : caller.identity,
             " at ", caller.peer, ": ", why);
  AuditRecord record;
  record.identity = caller.identity;
  record.peer = caller.peer;
  record.action = std::string(action);
  record.result = absl::StrCat("refused: ", why);
  audit_->Write(record);
}

}  // namespace relaysync
