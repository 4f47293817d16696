#include "common/never_relay.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

absl::Status InvalidCidr(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid address range \"", absl::CHexEscape(text), "\": ", why));
}

// True if the first `bits` bits of a and b are equal.
bool SamePrefix(const std::array<uint8_t, 16>& a,
                const std::array<uint8_t, 16>& b, int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff00 >> bits);
  return (a[i] & mask) == (b[i] & mask);
}

// Parses a decimal prefix length 0..max without sign or leading zero.
bool ParsePrefixLength(absl::string_view text, int max, int* out) {
  if (text.empty() || text.size() > 3) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  int value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  const absl::string_view host = text.substr(0, slash);
  absl::StatusOr<Address> address = Address::Parse(host);
  if (!address.ok()) return InvalidCidr(text, address.status().message());
  // Written as IPv6 but folded to IPv4 (::ffff:a.b.c.d): its prefix counts
  // the 96 bits of the mapping.
  const bool written_v6 = host.find(':') != absl::string_view::npos;
  const bool v4 = address->family() == Address::Family::kV4;
  const int written_max = written_v6 ? 128 : 32;
  int prefix_len = written_max;
  if (slash != absl::string_view::npos &&
      !ParsePrefixLength(text.substr(slash + 1), written_max, &prefix_len)) {
    return InvalidCidr(
        text, absl::StrCat("the prefix length must be 0-", written_max));
  }
  if (written_v6 && v4) {
    if (prefix_len < 96) {
      return InvalidCidr(text, "an IPv4-mapped range needs a prefix of 96+");
    }
    prefix_len -= 96;
  }
  const int bits = v4 ? 32 : 128;
  // Host bits: the address must equal itself masked to the prefix.
  for (int bit = prefix_len; bit < bits; ++bit) {
    if (address->bytes()[bit / 8] & (0x80 >> (bit % 8))) {
      return InvalidCidr(text,
                         absl::StrCat("host bits are set below /", prefix_len));
    }
  }
  return Cidr(*address, prefix_len);
}

bool Cidr::Contains(const Address& address) const {
  return address.family() == network_.family() &&
         SamePrefix(address.bytes(), network_.bytes(), prefix_len_);
}

std::string Cidr::ToString() const {
  return absl::StrCat(network_.ToString(), "/", prefix_len_);
}

NeverRelay NeverRelay::Defaults() {
  static const struct {
    const char* cidr;
    const char* why;
  } kDefaults[] = {
      {"0.0.0.0/32", "unspecified address"},
      {"::/128", "unspecified address"},
      {"255.255.255.255/32", "limited broadcast address"},
      {"224.0.0.0/4", "multicast address"},
      {"ff00::/8", "multicast address"},
  };
  NeverRelay set;
  for (const auto& d : kDefaults) {
    set.ranges_.push_back(Range{*Cidr::Parse(d.cidr), d.why});
  }
  return set;
}

absl::StatusOr<NeverRelay> NeverRelay::WithExtra(absl::string_view list,
                                                 absl::string_view origin) {
  NeverRelay set = Defaults();
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(absl::StripAsciiWhitespace(item));
    if (!cidr.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", cidr.status().message()));
    }
    set.ranges_.push_back(Range{*cidr, std::string(origin)});
  }
  return set;
}

const NeverRelay::Range* NeverRelay::Find(const Address& address) const {
  for (const Range& r : ranges_) {
    if (r.cidr.Contains(address)) return &r;
  }
  return nullptr;
}

absl::Status NeverRelay::Check(const Address& address) const {
  const Range* r = Find(address);
  if (r == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("address ", address.ToString(), " is never relayed (",
                   r->why, ": ", r->cidr.ToString(), ")"));
}

absl::Status NeverRelay::Check(absl::string_view address) const {
  absl::StatusOr<Address> a = Address::Parse(address);
  if (!a.ok()) return a.status();
  return Check(*a);
}

std::string NeverRelay::ToString() const {
  return absl::StrJoin(ranges_, ", ", [](std::string* out, const Range& r) {
    out->append(r.cidr.ToString());
  });
}

}  // namespace relaysync
