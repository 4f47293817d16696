// The list/dump text format: makemap-editable, one comment line with the
// UTC time and one "KEY<TAB>TICKS" line per entry, in address order. With
// --attribution, a second comment line says who granted the entry, so the
// output still rebuilds the same map.
#ifndef RELAYSYNC_CLI_ENTRY_FORMAT_H_
#define RELAYSYNC_CLI_ENTRY_FORMAT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "backends/map/relayers_db.h"
#include "cli/relay_backend.h"

namespace relaysync {

// Sorts entries: IPv4 then IPv6 in numeric order, then keys that are not
// addresses, by text.
void SortEntries(std::vector<ListedEntry>* entries);

// Writes one entry. A value that is not a number is written as stored, with
// a comment saying so, so the output still rebuilds the same map. With
// `who` (non-null), a line "# attribution: host=HOST user=USER" (or
// "# attribution: unknown") goes between the comment and the entry.
void WriteEntry(const MapEntry& entry, const Attribution* who,
                std::ostream& out);

// `field` with every byte outside '!'..'~', and '\', written as \xHH: no
// space, control byte, terminal escape or line break survives, so a
// hostile user name can neither forge a line nor split a field, and
// scripts split the line on spaces and each field on its first '='.
std::string EscapeAttributionField(absl::string_view field);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_ENTRY_FORMAT_H_
