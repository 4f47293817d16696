// Fuzz target: ParseNotifyMessage (agent/notify_message.h), the datagrams
// local programs send to the agent. Asserts, for every accepted datagram: a
// canonical address, a user and source without control characters and
// within limits, a source that says it came from the notify socket, the
// receiver's time; and that FormatNotifyMessage of the login parses back to
// the same login.
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "agent/notify_message.h"
#include "common/address.h"
#include "fuzz/fuzz_util.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

constexpr int64_t kNow = 1795000000;

bool Clean(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void CheckLogin(absl::string_view message, const LocalLogin& login) {
  absl::StatusOr<Address> address = Address::Parse(login.address);
  FUZZ_CHECK(address.ok() && address->ToString() == login.address, message);
  FUZZ_CHECK(login.login_time == kNow, message);
  FUZZ_CHECK(login.user.size() <= kMaxTextField && Clean(login.user), message);
  FUZZ_CHECK(login.source.size() <= kMaxTextField && Clean(login.source),
             message);
  FUZZ_CHECK(
      login.source == "notify" || absl::StartsWith(login.source, "notify:"),
      message);

  // Round trip: the sender's form of the login has the bare SOURCE.
  LocalLogin sent = login;
  absl::string_view source = login.source;
  if (!absl::ConsumePrefix(&source, "notify:")) source = "";
  sent.source = std::string(source);
  absl::StatusOr<std::string> text = FormatNotifyMessage(sent);
  FUZZ_CHECK(text.ok(), message);
  FUZZ_CHECK(text->size() <= kMaxNotifyMessageBytes, *text);
  absl::StatusOr<LocalLogin> back = ParseNotifyMessage(*text, kNow);
  FUZZ_CHECK(back.ok() && *back == login, *text);
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view message = relaysync::fuzz::AsText(data, size);
  absl::StatusOr<relaysync::LocalLogin> login =
      relaysync::ParseNotifyMessage(message, relaysync::kNow);
  if (login.ok()) {
    relaysync::CheckLogin(message, *login);
  } else {
    FUZZ_CHECK(!login.status().message().empty(), message);
  }
  return 0;
}
