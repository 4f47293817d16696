#include "coordinator/access_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace relaysync {
namespace {

bool ParseRoles(absl::string_view text, unsigned* roles) {
  *roles = 0;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    if (word == "agent") {
      *roles |= static_cast<unsigned>(Role::kAgent);
    } else if (word == "admin") {
      *roles |= static_cast<unsigned>(Role::kAdmin);
    } else if (word == "reader") {
      *roles |= static_cast<unsigned>(Role::kReader);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent:
      return "agent";
    case Role::kAdmin:
      return "admin";
    case Role::kReader:
      return "reader";
  }
  return "?";
}

AccessPolicy AccessPolicy::Default(absl::string_view trust_domain) {
  const std::string base = absl::StrCat("spiffe://", trust_domain, "/");
  AccessPolicy policy;
  policy.rules_ = {
      {static_cast<unsigned>(Role::kAgent), base + "agent/", true},
      {static_cast<unsigned>(Role::kAdmin) |
           static_cast<unsigned>(Role::kReader),
       base + "admin/", true},
      {static_cast<unsigned>(Role::kReader), base + "reader/", true},
  };
  return policy;
}

absl::StatusOr<AccessPolicy> AccessPolicy::Parse(absl::string_view text,
                                                 absl::string_view name) {
  AccessPolicy policy;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", number, ": ", why));
    };
    if (words.size() != 2) {
      return bad("expected \"ROLE[,ROLE...] IDENTITY\"");
    }
    Rule rule;
    if (!ParseRoles(words[0], &rule.roles)) {
      return bad(absl::StrCat("unknown role in \"", words[0],
                              "\" (agent, admin, reader)"));
    }
    absl::string_view identity = words[1];
    rule.prefix = absl::EndsWith(identity, "/*");
    if (rule.prefix) identity.remove_suffix(1);
    if (identity.find('*') != absl::string_view::npos) {
      return bad("'*' is allowed only as a whole final segment (\".../*\")");
    }
    if (identity.find("://") == absl::string_view::npos) {
      return bad(absl::StrCat(
          "\"", words[1], "\" is not a URI like spiffe://DOMAIN/agent/mx1"));
    }
    rule.identity = std::string(identity);
    policy.rules_.push_back(std::move(rule));
  }
  return policy;
}

Grant AccessPolicy::For(absl::string_view identity) const {
  Grant grant;
  if (identity.empty()) return grant;
  for (const Rule& rule : rules_) {
    bool match;
    if (rule.prefix) {
      absl::string_view rest = identity;
      match = absl::ConsumePrefix(&rest, rule.identity) && !rest.empty() &&
              rest.find('/') == absl::string_view::npos;
    } else {
      match = identity == rule.identity;
    }
    if (match) grant.roles |= rule.roles;
  }
  if (grant.Has(Role::kAgent)) {
    const size_t slash = identity.rfind('/');
    grant.host_id = std::string(identity.substr(slash + 1));
    if (grant.host_id.empty()) {
      grant.roles &= ~static_cast<unsigned>(Role::kAgent);
    }
  }
  return grant;
}

}  // namespace relaysync
