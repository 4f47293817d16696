// The file formats of the map kinds that are replaced whole by rename
// (ReplacedMap): text lines, a Berkeley DB hash built whole, and cdb.
#ifndef RELAYSYNC_BACKENDS_MAP_MAP_FILE_FORMATS_H_
#define RELAYSYNC_BACKENDS_MAP_MAP_FILE_FORMATS_H_

#include <string>

#include "backends/map/replaced_map.h"

namespace relaysync {

// One "KEY<TAB>value" line per entry, in key order. Keys that hold a colon,
// white space or "#" (IPv6 addresses) are written in double quotes: Exim's
// lsearch ends an unquoted key at the first colon. Reading accepts
// "key value", "key: value" and quoted keys, and skips blank lines and "#"
// comments (which the next write does not keep). Keys holding a quote, a
// tab or a line break are refused.
class TextFormat : public MapFileFormat {
 public:
  absl::string_view name() const override { return "text map"; }
  absl::StatusOr<Entries> Read(int fd, const std::string& path) const override;
  absl::Status Write(int fd, const std::string& path,
                     const Entries& entries) const override;
  absl::Status CheckKey(absl::string_view key) const override;

  // The file's text for `entries`.
  static std::string Format(const Entries& entries);
};

// A Berkeley DB hash file (what Exim's dbm and dbmnz lookups open), with or
// without a NUL after each key, built whole by RelayersDb.
class BdbFileFormat : public MapFileFormat {
 public:
  explicit BdbFileFormat(bool nul_terminated_keys)
      : nul_terminated_keys_(nul_terminated_keys) {}
  absl::string_view name() const override { return "Berkeley DB map"; }
  absl::StatusOr<Entries> Read(int fd, const std::string& path) const override;
  absl::Status Write(int fd, const std::string& path,
                     const Entries& entries) const override;

 private:
  const bool nul_terminated_keys_;
};

// A cdb file (tinycdb's libcdb): constant by design, so it is only ever
// built whole. Keys without a NUL, as Postfix's postmap writes cdb: tables
// and Exim's cdb lookup looks them up.
class CdbFormat : public MapFileFormat {
 public:
  absl::string_view name() const override { return "cdb map"; }
  absl::StatusOr<Entries> Read(int fd, const std::string& path) const override;
  absl::Status Write(int fd, const std::string& path,
                     const Entries& entries) const override;
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_MAP_MAP_FILE_FORMATS_H_
