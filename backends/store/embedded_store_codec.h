// Byte layouts of the embedded store's keys and values (docs/state.md,
// "Embedded store: on-disk layout"). Pure functions over bytes: nothing here
// knows Berkeley DB.
#ifndef RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_CODEC_H_
#define RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "backends/store/relay_record.h"
#include "backends/store/store.h"

namespace relaysync::embedded {

// Big-endian, so that btree key order is numeric order (change log keys).
std::string EncodeU64(uint64_t v);
// Reads the first 8 bytes; the caller checks the size.
uint64_t DecodeU64(absl::string_view s);

// records.db value: login_time, delete_time (16 bytes); then, when the
// record has an attribution, its host and user, each a 2-byte big-endian
// length and that many bytes (at most kMaxAttributionField). A 16-byte
// value (format 2, or no attribution) decodes with an empty one. False for
// any other shape.
std::string EncodeRecord(const RelayRecord& r);
bool DecodeRecord(absl::string_view s, RelayRecord* r);

// changelog.db value: ticks (8 bytes), removed flag (1 byte), address. The
// version is the key.
std::string EncodeChange(const StateChange& c);
bool DecodeChange(absl::string_view s, StateChange* c);

// by_login.db / by_delete.db key: `time` big-endian with its sign bit
// flipped, then the address, so that byte order is (time, address) order
// for negative times too.
std::string EncodeIndexKey(int64_t time, absl::string_view address);
// False unless `key` holds a time and a non-empty address. `address`
// points into `key`.
bool DecodeIndexKey(absl::string_view key, int64_t* time,
                    absl::string_view* address);

}  // namespace relaysync::embedded

#endif  // RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_CODEC_H_
