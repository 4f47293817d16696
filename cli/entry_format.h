// The list/dump text format: makemap-editable, one comment line with the
// UTC time and one "KEY<TAB>TICKS" line per entry, in address order.
#ifndef RELAYSYNC_CLI_ENTRY_FORMAT_H_
#define RELAYSYNC_CLI_ENTRY_FORMAT_H_

#include <ostream>
#include <vector>

#include "backends/relayers_db.h"

namespace relaysync {

// Sorts entries: IPv4 then IPv6 in numeric order, then keys that are not
// addresses, by text.
void SortEntries(std::vector<MapEntry>* entries);

// Writes one entry. A value that is not a number is written as stored, with
// a comment saying so, so the output still rebuilds the same map.
void WriteEntry(const MapEntry& entry, std::ostream& out);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_ENTRY_FORMAT_H_
