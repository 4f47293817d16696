// See notify_message.h.
#include "agent/notify_message.h"

#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/address.h"
#include "common/login_text.h"

namespace relaysync {
namespace {

constexpr absl::string_view kVersion = "v1";
constexpr absl::string_view kSourcePrefix = "notify:";
constexpr absl::string_view kAnswerError = "error";

}  // namespace

absl::StatusOr<std::string> FormatNotifyMessage(const LocalLogin& login) {
  absl::StatusOr<Address> address = Address::Parse(login.address);
  if (!address.ok()) return address.status();
  // Cut and escaped, never refused: a tab or newline in a name cannot break
  // the datagram's fields, and an honest login is never lost to its name.
  return absl::StrCat(
      kVersion, "\t", address->ToString(), "\t", CleanLoginText(login.user),
      "\t", ProtocolName(login.protocol), "\t",
      CleanLoginText(login.source, kMaxTextField - kSourcePrefix.size()), "\n");
}

absl::StatusOr<LocalLogin> ParseNotifyMessage(absl::string_view message,
                                              int64_t now) {
  absl::ConsumeSuffix(&message, "\n");
  std::vector<absl::string_view> fields = absl::StrSplit(message, '\t');
  if (fields.size() != 5 || fields[0] != kVersion) {
    return absl::InvalidArgumentError(
        "expected \"v1<TAB>IP<TAB>USER<TAB>PROTOCOL<TAB>SOURCE\"");
  }
  absl::StatusOr<Address> address = Address::Parse(fields[1]);
  if (!address.ok()) return address.status();
  std::optional<LocalLogin::Protocol> protocol = ParseProtocolName(fields[3]);
  if (!protocol) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol \"", absl::CHexEscape(fields[3]),
                     "\" is not pop3, imap or unknown"));
  }
  LocalLogin login;
  login.address = address->ToString();
  login.login_time = now;
  // The user is optional (`relaysync-agent notify IP` without USER). Any
  // sender may write here: cut and escaped, like every login text.
  login.user = CleanLoginText(fields[2]);
  login.protocol = *protocol;
  login.source =
      fields[4].empty()
          ? std::string("notify")
          : absl::StrCat(kSourcePrefix,
                         CleanLoginText(fields[4],
                                        kMaxTextField - kSourcePrefix.size()));
  return login;
}

std::string NotifyErrorAnswer(absl::string_view why) {
  return absl::StrCat(kAnswerError, "\t", CleanLoginText(why, 200), "\n");
}

absl::Status ParseNotifyAnswer(absl::string_view answer) {
  if (answer == kNotifyAnswerOk) return absl::OkStatus();
  absl::ConsumePrefix(&answer, kAnswerError);
  absl::ConsumePrefix(&answer, "\t");
  absl::ConsumeSuffix(&answer, "\n");
  return absl::AbortedError(answer);
}

}  // namespace relaysync
