// Who may do what: maps a caller's identity (the URI SAN of its verified
// client certificate, e.g. spiffe://relaysync/agent/mx1) to roles.
//
//   agent   may open Sync, only as the host id its identity names
//   admin   may Add, Delete and Expire
//   reader  may List and Status (both hand out every client address)
//
// A policy file has one rule per line, "ROLE[,ROLE...] IDENTITY", where
// IDENTITY is exact or ends in "/*" (any one final path segment); '#'
// starts a comment. Every matching rule adds its roles. An agent's host id
// is its identity's final path segment. Without a file the built-in policy
// for trust domain D is:
//   agent         spiffe://D/agent/*
//   admin,reader  spiffe://D/admin/*
//   reader        spiffe://D/reader/*
// No gRPC here: the Authorizer applies the policy to calls.
#ifndef RELAYSYNC_COORDINATOR_ACCESS_POLICY_H_
#define RELAYSYNC_COORDINATOR_ACCESS_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace relaysync {

enum class Role : unsigned { kAgent = 1, kAdmin = 2, kReader = 4 };

// "agent", "admin", "reader".
absl::string_view RoleName(Role role);

// The roles of one identity, as a bit set of Role values.
struct Grant {
  unsigned roles = 0;
  std::string host_id;  // for kAgent: the only host id it may claim

  bool Has(Role role) const {
    return (roles & static_cast<unsigned>(role)) != 0;
  }
};

class AccessPolicy {
 public:
  // The built-in policy for `trust_domain` (see the top of this file).
  static AccessPolicy Default(absl::string_view trust_domain);
  // Parses a policy file's text; `name` (the path) prefixes errors, which
  // give the line number.
  static absl::StatusOr<AccessPolicy> Parse(absl::string_view text,
                                            absl::string_view name);

  Grant For(absl::string_view identity) const;
  size_t rules() const { return rules_.size(); }

 private:
  struct Rule {
    unsigned roles;
    std::string identity;  // without the trailing '*' when `prefix`
    bool prefix;
  };
  std::vector<Rule> rules_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_ACCESS_POLICY_H_
