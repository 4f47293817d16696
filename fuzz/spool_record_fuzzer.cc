// Fuzz target: the spool's on-disk format (agent/spool_record.h), read back
// after a crash or from a damaged disk. The first byte picks what the rest
// is: a whole spool file for SpoolRecordReader; one header, add or ack
// payload; or records (framed here with good checksums, so the payloads get
// past the CRC) replayed by Spool::Open in a scratch directory. Asserts
// that the reader stops at a torn record without reading past the file and
// that every record it returns re-frames to the same bytes; that every
// payload a decoder accepts re-encodes to exactly its input (one encoding
// per value: no trailing bytes, no alternative forms); and that a spool
// that opens hands out a fresh event id and keeps it across a reopen.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/spool.h"
#include "agent/spool_record.h"
#include "common/logging.h"
#include "fuzz/fuzz_util.h"

namespace relaysync {
namespace {

void ReadFile(absl::string_view bytes) {
  std::string copy(bytes);
  // fmemopen wants a non-empty buffer; an empty file has no records.
  if (copy.empty()) return;
  FILE* f = fmemopen(&copy[0], copy.size(), "rb");
  FUZZ_CHECK(f != nullptr, "fmemopen");
  SpoolRecordReader reader(f);
  SpoolRecordType type;
  std::string payload;
  int64_t offset = 0;
  for (;;) {
    SpoolRecordReader::Result r = reader.Next(&type, &payload);
    if (r != SpoolRecordReader::Result::kRecord) break;
    std::string framed;
    AppendSpoolRecord(type, payload, &framed);
    FUZZ_CHECK(static_cast<size_t>(offset) + framed.size() <= bytes.size(),
               "record past the end of the file");
    FUZZ_CHECK(bytes.substr(offset, framed.size()) == framed,
               "record does not re-frame to its bytes");
    offset += static_cast<int64_t>(framed.size());
    FUZZ_CHECK(reader.valid_end() == offset, "valid_end");
  }
  FUZZ_CHECK(reader.valid_end() == offset, "valid_end after the last record");
  fclose(f);
}

void DecodePayload(uint8_t kind, absl::string_view payload) {
  switch (kind % 3) {
    case 0: {
      uint64_t next_seq;
      if (DecodeSpoolHeader(payload, &next_seq)) {
        FUZZ_CHECK(EncodeSpoolHeader(next_seq) == payload, "header");
      }
      break;
    }
    case 1: {
      uint64_t seq;
      std::string event_id;
      LocalLogin login;
      if (DecodeSpoolAdd(payload, &seq, &event_id, &login)) {
        FUZZ_CHECK(EncodeSpoolAdd(seq, event_id, login) == payload, "add");
      }
      break;
    }
    default: {
      std::vector<std::string> ids;
      if (DecodeSpoolAck(payload, &ids)) {
        FUZZ_CHECK(EncodeSpoolAck(ids) == payload, "ack");
      }
      break;
    }
  }
}

// `data` is records as [type byte][payload length: u16 LE][payload]; the
// harness frames them with good checksums.
void Replay(const uint8_t* data, size_t size) {
  std::string file;
  while (size >= 3) {
    uint8_t type = data[0];
    // Mostly the three real types, sometimes anything.
    if (type < 0xf0) type = 1 + type % 3;
    size_t n = std::min<size_t>(data[1] | data[2] << 8, size - 3);
    AppendSpoolRecord(static_cast<SpoolRecordType>(type),
                      fuzz::AsText(data + 3, n), &file);
    data += 3 + n;
    size -= 3 + n;
  }
  const std::string dir = fuzz::ScratchDir() + "/spool";
  mkdir(dir.c_str(), 0700);
  unlink((dir + "/" + Spool::kFileName).c_str());
  fuzz::WriteWholeFile(dir + "/" + Spool::kFileName, file);
  std::vector<std::string> ids;
  {
    absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(dir, "mx1");
    if (!spool.ok()) return;
    std::vector<SpooledLogin> pending = (*spool)->Pending();
    FUZZ_CHECK(pending.size() == (*spool)->pending_count(), "pending_count");
    for (const SpooledLogin& p : pending) ids.push_back(p.event_id);
    LocalLogin login;
    login.address = "192.0.2.7";
    login.login_time = 1795000000;
    login.user = "alice";
    absl::StatusOr<std::vector<SpooledLogin>> added = (*spool)->Append({login});
    // Refused only when a doctored header left no numbers to issue.
    if (!added.ok()) {
      FUZZ_CHECK(added.status().code() == absl::StatusCode::kResourceExhausted,
                 added.status().ToString());
      return;
    }
    FUZZ_CHECK(added->size() == 1, "append after replay");
    for (const std::string& id : ids) {
      FUZZ_CHECK(id != (*added)[0].event_id, "event id reused");
    }
    ids.push_back((*added)[0].event_id);
  }
  absl::StatusOr<std::unique_ptr<Spool>> again = Spool::Open(dir, "mx1");
  FUZZ_CHECK(again.ok(), "reopen after append");
  std::vector<SpooledLogin> pending = (*again)->Pending();
  FUZZ_CHECK(pending.size() == ids.size(), "pending after reopen");
  for (size_t i = 0; i < ids.size(); ++i) {
    FUZZ_CHECK(pending[i].event_id == ids[i], "pending order after reopen");
  }
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  relaysync::SetLogQuiet(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view rest = relaysync::fuzz::AsText(data + 1, size - 1);
  if (data[0] < 0x40) {
    relaysync::ReadFile(rest);
  } else if (data[0] < 0x80) {
    relaysync::Replay(data + 1, size - 1);
  } else {
    relaysync::DecodePayload(data[0], rest);
  }
  return 0;
}
