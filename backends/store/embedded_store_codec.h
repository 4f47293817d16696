// Byte layouts of the embedded store's keys and values (docs/state.md,
// "Embedded store: on-disk layout"). Pure functions over bytes: nothing here
// knows Berkeley DB.
#ifndef RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_CODEC_H_
#define RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

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

// changelog.db entry (format 4): a run of consecutive changes under the
// version of its last (EncodeU64). Each change is ticks (8 bytes), removed
// flag (1 byte), the address's length (2 bytes, big-endian, at most
// kMaxChangeAddress) and the address. One entry per run, not per change:
// appending and trimming it cost a B-tree item each, which per change was
// a third of the merge thread's time at full ingest.
inline constexpr size_t kMaxChangeAddress = 0xffff;
// Appends `c` (its address at most kMaxChangeAddress bytes; the version is
// not stored) to `run`.
void AppendChange(const StateChange& c, std::string* run);
// Decodes every change of `run` into `out`, versions unset. False (and
// `out` in an unspecified state) unless `run` is one or more whole changes.
bool DecodeChangeRun(absl::string_view run, std::vector<StateChange>* out);

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
