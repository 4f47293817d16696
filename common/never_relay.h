// NeverRelay: the client addresses relaysync never grants relaying, whoever
// reports them (an agent's own login sources, a Sync stream, Admin.Add,
// vsmtprelay). One rule, applied at every door; see docs/operations.md.
#ifndef RELAYSYNC_COMMON_NEVER_RELAY_H_
#define RELAYSYNC_COMMON_NEVER_RELAY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/address.h"

namespace relaysync {

// An address block: "224.0.0.0/4", "fd00::/8"; a bare address is a /32 or
// /128. Value type.
class Cidr {
 public:
  // Refuses host bits set below the prefix ("10.1.0.0/8": a typo for
  // 10.0.0.0/8 or for 10.1.0.0/16? a security list should not guess).
  // IPv4-mapped IPv6 ("::ffff:10.0.0.0/104") becomes IPv4, as Address does.
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  bool Contains(const Address& address) const;
  std::string ToString() const;  // "224.0.0.0/4"

 private:
  Cidr(Address network, int prefix_len)
      : network_(network), prefix_len_(prefix_len) {}

  Address network_;
  int prefix_len_;
};

// A set of ranges, each with why it is never relayed. Immutable after
// construction; thread-safe to share.
class NeverRelay {
 public:
  struct Range {
    Cidr cidr;
    std::string why;  // "unspecified address", "--never-relay"
  };

  // Only the addresses that can never be a real client's source, refused
  // whatever the configuration: unspecified (0.0.0.0, ::), IPv4 limited
  // broadcast (255.255.255.255) and multicast (224.0.0.0/4, ff00::/8).
  // Loopback is not among them (docs/operations.md says why).
  static NeverRelay Defaults();
  // The defaults plus each CIDR of a comma-separated list (the
  // --never-relay flag; empty: none), each attributed to `origin`.
  static absl::StatusOr<NeverRelay> WithExtra(absl::string_view list,
                                              absl::string_view origin);

  // The first range holding `address`, or nullptr.
  const Range* Find(const Address& address) const;
  // OK, or InvalidArgument naming the address and the range:
  // "address 0.0.0.0 is never relayed (unspecified address: 0.0.0.0/32)".
  absl::Status Check(const Address& address) const;
  // Check() of text that parses (canonical or not); a parse error as is.
  absl::Status Check(absl::string_view address) const;

  const std::vector<Range>& ranges() const { return ranges_; }
  // "0.0.0.0/32, ::/128, ...": for a start-up log line.
  std::string ToString() const;

 private:
  std::vector<Range> ranges_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_NEVER_RELAY_H_
