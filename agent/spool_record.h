// The on-disk record format of the spool (agent/spool.h): framing with a
// CRC-32C per record, so that a tail torn by a crash is recognized, and the
// payload encodings of the three record kinds.
#ifndef RELAYSYNC_AGENT_SPOOL_RECORD_H_
#define RELAYSYNC_AGENT_SPOOL_RECORD_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/local_login.h"

namespace relaysync {

// Frame: u32 payload length (little endian), u32 CRC-32C of (length bytes,
// type byte, payload), u8 type, payload.
enum class SpoolRecordType : uint8_t { kHeader = 1, kAdd = 2, kAck = 3 };

// Bytes of framing before each payload.
inline constexpr size_t kSpoolFrameBytes = 9;
// Records larger than this are corrupt by definition.
inline constexpr uint32_t kMaxSpoolRecordBytes = 16 << 20;

// Appends one framed record to `out`.
void AppendSpoolRecord(SpoolRecordType type, absl::string_view payload,
                       std::string* out);

// Payloads. A header starts every file and carries the next sequence number,
// so numbers are not reused even after compaction left no add records.
std::string EncodeSpoolHeader(uint64_t next_seq);
bool DecodeSpoolHeader(absl::string_view payload, uint64_t* next_seq);
std::string EncodeSpoolAdd(uint64_t seq, const std::string& event_id,
                           const LocalLogin& login);
bool DecodeSpoolAdd(absl::string_view payload, uint64_t* seq,
                    std::string* event_id, LocalLogin* login);
std::string EncodeSpoolAck(const std::vector<std::string>& event_ids);
bool DecodeSpoolAck(absl::string_view payload,
                    std::vector<std::string>* event_ids);

// Reads framed records from the start of a file.
class SpoolRecordReader {
 public:
  enum class Result { kRecord, kEnd, kTorn };
  explicit SpoolRecordReader(FILE* file) : file_(file) {}
  // kTorn: a short, oversized or checksum-failing record at valid_end();
  // nothing after it can be trusted.
  Result Next(SpoolRecordType* type, std::string* payload);
  // Offset just past the last good record.
  int64_t valid_end() const { return valid_end_; }

 private:
  FILE* file_;
  int64_t valid_end_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SPOOL_RECORD_H_
