// RelayBackend on a local map file of any kind (backends/map/map_kind.h):
// vsmtprelay 1.1.0's behaviour.
#ifndef RELAYSYNC_CLI_LOCAL_BACKEND_H_
#define RELAYSYNC_CLI_LOCAL_BACKEND_H_

#include <memory>
#include <string>

#include "backends/map/map_kind.h"
#include "backends/map/relayers_db.h"
#include "cli/relay_backend.h"
#include "common/address.h"
#include "common/clock.h"

namespace relaysync {

// Opens `path`, a map of `kind`, for writing when `writable` (creating it
// if missing), else read-only, so list/dump work on a map the user may
// only read. `clock` (not owned) stamps an add without ticks.
absl::StatusOr<std::unique_ptr<RelayBackend>> OpenLocalBackend(
    const std::string& path, bool writable, MapKind kind, KeyStyle key_style,
    const MapOptions& options, const Clock* clock);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_LOCAL_BACKEND_H_
