#include "agent/local_login.h"

namespace relaysync {

absl::string_view ProtocolName(LocalLogin::Protocol protocol) {
  switch (protocol) {
    case LocalLogin::Protocol::kPop3:
      return "pop3";
    case LocalLogin::Protocol::kImap:
      return "imap";
    case LocalLogin::Protocol::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<LocalLogin::Protocol> ParseProtocolName(absl::string_view name) {
  if (name == "pop3") return LocalLogin::Protocol::kPop3;
  if (name == "imap") return LocalLogin::Protocol::kImap;
  if (name == "unknown") return LocalLogin::Protocol::kUnknown;
  return std::nullopt;
}

}  // namespace relaysync
