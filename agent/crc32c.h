// CRC-32C (Castagnoli), used to detect torn spool records and to fingerprint
// the head of a tailed log file. Not for anything adversarial.
#ifndef RELAYSYNC_AGENT_CRC32C_H_
#define RELAYSYNC_AGENT_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace relaysync {

// Extends `crc` (the CRC of preceding data, 0 for none) with `data`.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CRC32C_H_
