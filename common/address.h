// Parsing and canonical text forms of client IP addresses.
// One parser serves the CLI, the agent's event sources and the coordinator, so
// the same client always maps to the same relayers.db key.
#ifndef RELAYSYNC_COMMON_ADDRESS_H_
#define RELAYSYNC_COMMON_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace relaysync {

// How an address is spelled as a relayers.db key.
enum class KeyStyle {
  // "10.1.2.3", "fd00:db8::5" (RFC 5952 compressed, lower case).
  kCanonical,
  // What sendmail looks up: ${client_addr} lower-cased, so IPv6 becomes
  // "ipv6:" + the full uncompressed form, e.g. "ipv6:fd00:db8:0:0:0:0:0:5".
  // IPv4 is the same as kCanonical.
  kSendmail,
  // What Exim's net- lookups in a host list look up (hosts = net-dbm;FILE):
  // IPv6 as eight four-digit groups joined by dots,
  // "fd00.0db8.0000.0000.0000.0000.0000.0005". IPv4 is the same as
  // kCanonical.
  kExim,
};

// Parses "canonical", "sendmail" or "exim" (the spelling used by flags).
absl::StatusOr<KeyStyle> ParseKeyStyle(absl::string_view text);

// An IPv4 or IPv6 address. Value type; IPv4-mapped IPv6 (::ffff:a.b.c.d)
// is always folded to IPv4 so a client has exactly one identity.
class Address {
 public:
  enum class Family : uint8_t { kV4, kV6 };

  // Accepts IPv4 dotted quads (four decimal parts 0..255 without leading
  // zeros: "010" is octal to inet_aton and decimal to people, so it is
  // refused rather than guessed) and IPv6 in any RFC 4291 text form,
  // optionally prefixed by sendmail's "IPv6:" tag (any case). Zone ids,
  // prefixes and surrounding whitespace are refused.
  static absl::StatusOr<Address> Parse(absl::string_view text);
  // A key read from a map: what Parse accepts, or the kExim spelling of an
  // IPv6 address (exactly as ToKey(kExim) writes it).
  static absl::StatusOr<Address> ParseKey(absl::string_view key);

  // The address that returned `family` and `bytes` from family() and
  // bytes() (IPv4: the first four bytes, the rest zero), for compact tables
  // that keep the bytes only.
  static Address FromBytes(Family family, const std::array<uint8_t, 16>& bytes);

  Family family() const { return family_; }
  // Network byte order; IPv4 uses the first 4 bytes.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }

  // The canonical text ("10.1.2.3", "2001:db8::1").
  std::string ToString() const;
  // The relayers.db key for `style`.
  std::string ToKey(KeyStyle style) const;
  // Every key under which a map may hold this address, ToKey(`first`)
  // first: kSendmail and kCanonical (and kExim when it is `first`), and for
  // IPv6 also the tag with the compressed form ("ipv6:fd00:db8::5"), which
  // older writers used. One key for IPv4.
  // Lower case only: sendmail and makemap fold keys to lower case.
  std::vector<std::string> KeySpellings(KeyStyle first) const;

  // IPv4 before IPv6, then numeric order: the order of list/dump output.
  friend bool operator<(const Address& a, const Address& b);
  friend bool operator==(const Address& a, const Address& b) {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Address& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  Address(Family family, const std::array<uint8_t, 16>& bytes)
      : family_(family), bytes_(bytes) {}

  Family family_;
  std::array<uint8_t, 16> bytes_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_ADDRESS_H_
