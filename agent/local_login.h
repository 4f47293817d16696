// A successful POP/IMAP login observed on this host: what every EventSource
// produces and what the spool stores until the coordinator acknowledges it.
#ifndef RELAYSYNC_AGENT_LOCAL_LOGIN_H_
#define RELAYSYNC_AGENT_LOCAL_LOGIN_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace relaysync {

struct LocalLogin {
  // Canonical client address (Address::ToString()), never raw input.
  std::string address;
  // Seconds since the Unix epoch.
  int64_t login_time = 0;
  // At most kMaxTextField bytes (proto/relaysync/v1/limits.h), as the
  // wire takes it; so is `source`.
  std::string user;
  enum class Protocol { kUnknown, kPop3, kImap } protocol = Protocol::kUnknown;
  // Where it was seen: "log:/var/log/dovecot.log", "notify:script-login", ...
  std::string source;

  friend bool operator==(const LocalLogin& a, const LocalLogin& b) {
    return a.address == b.address && a.login_time == b.login_time &&
           a.user == b.user && a.protocol == b.protocol && a.source == b.source;
  }
};

// "pop3", "imap", "unknown": the spelling used by the notify protocol.
absl::string_view ProtocolName(LocalLogin::Protocol protocol);
// Inverse of ProtocolName (exact, lower case); nullopt for anything else.
std::optional<LocalLogin::Protocol> ParseProtocolName(absl::string_view name);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOCAL_LOGIN_H_
