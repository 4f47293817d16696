#include "backends/map/map_kind.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backends/map/lmdb_map.h"
#include "backends/map/map_file_formats.h"
#include "backends/map/replaced_map.h"

namespace relaysync {
namespace {

struct KindInfo {
  MapKind kind;
  const char* name;
  KeyStyle key_style;
};

constexpr KindInfo kKinds[] = {
    {MapKind::kSendmail, "sendmail", KeyStyle::kSendmail},
    {MapKind::kPostfixHash, "postfix-hash", KeyStyle::kCanonical},
    {MapKind::kPostfixLmdb, "postfix-lmdb", KeyStyle::kCanonical},
    {MapKind::kEximDbm, "exim-dbm", KeyStyle::kExim},
    {MapKind::kEximDbmnz, "exim-dbmnz", KeyStyle::kExim},
    {MapKind::kCdb, "cdb", KeyStyle::kCanonical},
    {MapKind::kText, "text", KeyStyle::kCanonical},
};

const KindInfo& Info(MapKind kind) {
  for (const KindInfo& info : kKinds) {
    if (info.kind == kind) return info;
  }
  return kKinds[0];  // unreachable: every enumerator is listed
}

}  // namespace

absl::string_view MapKindName(MapKind kind) { return Info(kind).name; }

std::string MapKindNames() {
  std::vector<std::string> names;
  for (const KindInfo& info : kKinds) names.push_back(info.name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<MapKind> ParseMapKind(absl::string_view name) {
  for (const KindInfo& info : kKinds) {
    if (name == info.name) return info.kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown map kind \"", name, "\" (one of ", MapKindNames(), ")"));
}

KeyStyle MapKindKeyStyle(MapKind kind) { return Info(kind).key_style; }

std::string MapOutput::ToString() const {
  return absl::StrCat(MapKindName(kind), ":", path);
}

absl::StatusOr<MapOutput> ParseMapOutput(absl::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == absl::string_view::npos || colon + 1 == spec.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", spec, "\": expected KIND:PATH (KIND one of ",
                     MapKindNames(), ")"));
  }
  absl::StatusOr<MapKind> kind = ParseMapKind(spec.substr(0, colon));
  if (!kind.ok()) return kind.status();
  return MapOutput{*kind, std::string(spec.substr(colon + 1))};
}

absl::StatusOr<std::unique_ptr<MapWriter>> OpenMap(MapKind kind,
                                                   const std::string& path,
                                                   RelayersDb::Mode mode,
                                                   const MapOptions& options) {
  const bool writable = mode == RelayersDb::Mode::kReadWrite;
  std::unique_ptr<MapFileFormat> format;
  MapOptions o = options;
  switch (kind) {
    case MapKind::kSendmail:
      break;
    case MapKind::kPostfixHash:
      o.type = MapOptions::Type::kHash;
      o.nul_terminated_keys = true;
      break;
    case MapKind::kPostfixLmdb: {
      absl::StatusOr<std::unique_ptr<LmdbMap>> lmdb =
          LmdbMap::Open(path, writable, o);
      if (!lmdb.ok()) return lmdb.status();
      return std::unique_ptr<MapWriter>(std::move(*lmdb));
    }
    case MapKind::kEximDbm:
      format = std::make_unique<BdbFileFormat>(/*nul_terminated_keys=*/true);
      break;
    case MapKind::kEximDbmnz:
      format = std::make_unique<BdbFileFormat>(/*nul_terminated_keys=*/false);
      break;
    case MapKind::kCdb:
      format = std::make_unique<CdbFormat>();
      break;
    case MapKind::kText:
      format = std::make_unique<TextFormat>();
      break;
  }
  if (format != nullptr) {
    absl::StatusOr<std::unique_ptr<ReplacedMap>> map =
        ReplacedMap::Open(path, writable, std::move(format), o);
    if (!map.ok()) return map.status();
    return std::unique_ptr<MapWriter>(std::move(*map));
  }
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, mode, o);
  if (!db.ok()) return db.status();
  return std::unique_ptr<MapWriter>(std::move(*db));
}

}  // namespace relaysync
