// Fuzz target: Address::Parse (common/address.h), the one parser of client
// addresses. Asserts that an accepted text has one non-empty canonical
// spelling that parses back to the same address and to itself, that the
// sendmail key parses back to it too, and that the C library's inet_pton
// reads the same text as the same address (and accepts nothing we refuse).
#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/address.h"
#include "fuzz/fuzz_util.h"

namespace relaysync {
namespace {

// What inet_pton makes of `text` (untagged, NUL-free): family and the 16
// bytes Address would hold (IPv4-mapped IPv6 folded to IPv4).
bool LibcParse(const std::string& text, Address::Family* family,
               uint8_t bytes[16]) {
  memset(bytes, 0, 16);
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    *family = Address::Family::kV4;
    return true;
  }
  uint8_t v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) != 1) return false;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(v6, kMapped, 12) == 0) {
    *family = Address::Family::kV4;
    memcpy(bytes, v6 + 12, 4);
  } else {
    *family = Address::Family::kV6;
    memcpy(bytes, v6, 16);
  }
  return true;
}

void CheckAccepted(absl::string_view text, const Address& a) {
  const std::string canonical = a.ToString();
  FUZZ_CHECK(!canonical.empty(), text);
  FUZZ_CHECK(absl::AsciiStrToLower(canonical) == canonical, canonical);
  absl::StatusOr<Address> again = Address::Parse(canonical);
  FUZZ_CHECK(again.ok() && *again == a, canonical);
  FUZZ_CHECK(again->ToString() == canonical, canonical);
  FUZZ_CHECK(a.ToKey(KeyStyle::kCanonical) == canonical, canonical);
  const std::string key = a.ToKey(KeyStyle::kSendmail);
  absl::StatusOr<Address> from_key = Address::Parse(key);
  FUZZ_CHECK(from_key.ok() && *from_key == a, key);
  FUZZ_CHECK(absl::AsciiStrToLower(key) == key, key);
  if (a.family() == Address::Family::kV4) {
    for (int i = 4; i < 16; ++i) FUZZ_CHECK(a.bytes()[i] == 0, canonical);
    FUZZ_CHECK(key == canonical, key);
  }
  FUZZ_CHECK(!(a < *again) && !(*again < a), canonical);
  // vsmtprelay delete removes these: each must be this address, and no other.
  const std::vector<std::string> spellings =
      a.KeySpellings(KeyStyle::kSendmail);
  FUZZ_CHECK(!spellings.empty() && spellings[0] == key, key);
  for (const std::string& k : spellings) {
    absl::StatusOr<Address> parsed = Address::Parse(k);
    FUZZ_CHECK(parsed.ok() && *parsed == a, k);
  }
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using relaysync::Address;
  absl::string_view text = relaysync::fuzz::AsText(data, size);
  absl::StatusOr<Address> a = Address::Parse(text);
  if (a.ok()) {
    relaysync::CheckAccepted(text, *a);
  } else {
    FUZZ_CHECK(!a.status().message().empty(), text);
  }

  // Differential check against inet_pton, on texts it can be given.
  if (text.find('\0') != absl::string_view::npos) return 0;
  absl::string_view untagged = text;
  if (absl::StartsWithIgnoreCase(untagged, "ipv6:")) {
    untagged.remove_prefix(5);
    // sendmail's tag only ever precedes IPv6 text.
    if (untagged.find(':') == absl::string_view::npos) return 0;
  }
  Address::Family family;
  uint8_t bytes[16];
  bool libc = relaysync::LibcParse(std::string(untagged), &family, bytes);
  FUZZ_CHECK(libc == a.ok(), text);
  if (a.ok()) {
    FUZZ_CHECK(family == a->family(), text);
    FUZZ_CHECK(memcmp(bytes, a->bytes().data(), 16) == 0, text);
  }
  return 0;
}
