// Map kinds: the file formats relaysync writes for each MTA (sendmail,
// Postfix, Exim, plain text), each with the key spelling its reader looks
// up, and the one place that opens a map of a given kind. docs/maps.md says
// how each reader sees a change.
#ifndef RELAYSYNC_BACKENDS_MAP_MAP_KIND_H_
#define RELAYSYNC_BACKENDS_MAP_MAP_KIND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backends/map/relayers_db.h"
#include "common/address.h"

namespace relaysync {

enum class MapKind {
  // Berkeley DB hash, keys without a NUL, IPv6 as "ipv6:" + full form
  // (sendmail's ${client_addr}, lower-cased): today's relayers.db.
  kSendmail,
  // Berkeley DB hash, keys NUL-terminated as postmap writes them, IPv6 in
  // the compressed form smtpd's check_client_access looks up.
  kPostfixHash,
  // LMDB, keys and values NUL-terminated, IPv6 compressed, for Postfix's
  // lmdb: tables (postfix-lmdb). Written in place in one transaction under
  // the fcntl lock Postfix's readers take.
  kPostfixLmdb,
  // Berkeley DB hash for Exim's dbm lookup (keys NUL-terminated) and dbmnz
  // lookup (no NUL); IPv6 as a host list's net-dbm;FILE looks it up
  // (KeyStyle::kExim). Exim reads without a lock, so the file is built
  // whole and renamed into place.
  kEximDbm,
  kEximDbmnz,
  // cdb (tinycdb), for Postfix's cdb: tables and Exim's cdb lookup; keys
  // without a NUL, IPv6 compressed. Built whole and renamed into place.
  kCdb,
  // "IP<TAB>ticks" lines (IPv6 keys in double quotes, as Exim's lsearch and
  // iplsearch need), replaced whole by rename.
  kText,
};

// "sendmail", "postfix-hash", "postfix-lmdb", "exim-dbm", "exim-dbmnz",
// "cdb", "text".
absl::string_view MapKindName(MapKind kind);
// The names above, comma-separated, for messages and --help.
std::string MapKindNames();
absl::StatusOr<MapKind> ParseMapKind(absl::string_view name);

// How the kind's reader spells an IPv6 key (IPv4 is the same in all).
KeyStyle MapKindKeyStyle(MapKind kind);

// One map to keep: --output=KIND:PATH.
struct MapOutput {
  MapKind kind = MapKind::kSendmail;
  std::string path;
  std::string ToString() const;  // "KIND:PATH"
};
// Parses "KIND:PATH" (PATH non-empty; it may contain colons).
absl::StatusOr<MapOutput> ParseMapOutput(absl::string_view spec);

// Opens the map at `path` in `kind`'s format: RelayersDb (in place, under
// flock) for sendmail and postfix-hash, LmdbMap for postfix-lmdb,
// ReplacedMap (rebuilt and renamed) for the others. `options` supplies the lock
// timeout, clock and sync policy; every kind other than sendmail fixes its own
// key termination and type (sendmail keeps options.nul_terminated_keys and
// options.type, for the older --nul-keys and --btree flags).
absl::StatusOr<std::unique_ptr<MapWriter>> OpenMap(MapKind kind,
                                                   const std::string& path,
                                                   RelayersDb::Mode mode,
                                                   const MapOptions& options);

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_MAP_KIND_H_
