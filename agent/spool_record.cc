#include "agent/spool_record.h"

#include "agent/crc32c.h"

namespace relaysync {
namespace {

constexpr absl::string_view kMagic = "relaysync-spool v1";

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutString(absl::string_view s, std::string* out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out->append(s.data(), s.size());
}

// Bounds-checked reading of a payload.
class Decoder {
 public:
  explicit Decoder(absl::string_view data) : data_(data) {}
  bool U8(uint8_t* v) {
    if (data_.empty()) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t w;
    if (!Fixed(4, &w)) return false;
    *v = static_cast<uint32_t>(w);
    return true;
  }
  bool U64(uint64_t* v) { return Fixed(8, v); }
  bool String(std::string* s) {
    uint32_t n;
    if (!U32(&n) || data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  bool Fixed(size_t n, uint64_t* v) {
    if (data_.size() < n) return false;
    *v = 0;
    for (size_t i = 0; i < n; ++i) {
      *v |= uint64_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    }
    data_.remove_prefix(n);
    return true;
  }
  absl::string_view data_;
};

uint32_t FrameCrc(absl::string_view length_bytes, uint8_t type,
                  absl::string_view payload) {
  char t = static_cast<char>(type);
  uint32_t crc = Crc32c(length_bytes);
  crc = Crc32c(absl::string_view(&t, 1), crc);
  return Crc32c(payload, crc);
}

}  // namespace

void AppendSpoolRecord(SpoolRecordType type, absl::string_view payload,
                       std::string* out) {
  std::string length;
  PutU32(static_cast<uint32_t>(payload.size()), &length);
  out->append(length);
  PutU32(FrameCrc(length, static_cast<uint8_t>(type), payload), out);
  out->push_back(static_cast<char>(type));
  out->append(payload.data(), payload.size());
}

std::string EncodeSpoolHeader(uint64_t next_seq) {
  std::string out;
  PutString(kMagic, &out);
  PutU64(next_seq, &out);
  return out;
}

bool DecodeSpoolHeader(absl::string_view payload, uint64_t* next_seq) {
  Decoder d(payload);
  std::string magic;
  return d.String(&magic) && magic == kMagic && d.U64(next_seq) && d.done();
}

std::string EncodeSpoolAdd(uint64_t seq, const std::string& event_id,
                           const LocalLogin& login) {
  std::string out;
  PutU64(seq, &out);
  PutString(event_id, &out);
  PutU64(static_cast<uint64_t>(login.login_time), &out);
  out.push_back(static_cast<char>(login.protocol));
  PutString(login.address, &out);
  PutString(login.user, &out);
  PutString(login.source, &out);
  return out;
}

bool DecodeSpoolAdd(absl::string_view payload, uint64_t* seq,
                    std::string* event_id, LocalLogin* login) {
  Decoder d(payload);
  uint64_t time;
  uint8_t protocol;
  if (!d.U64(seq) || !d.String(event_id) || !d.U64(&time) || !d.U8(&protocol) ||
      protocol > 2 || !d.String(&login->address) || !d.String(&login->user) ||
      !d.String(&login->source) || !d.done()) {
    return false;
  }
  login->login_time = static_cast<int64_t>(time);
  login->protocol = static_cast<LocalLogin::Protocol>(protocol);
  return true;
}

std::string EncodeSpoolAck(const std::vector<std::string>& event_ids) {
  std::string out;
  PutU32(static_cast<uint32_t>(event_ids.size()), &out);
  for (const std::string& id : event_ids) PutString(id, &out);
  return out;
}

bool DecodeSpoolAck(absl::string_view payload,
                    std::vector<std::string>* event_ids) {
  Decoder d(payload);
  uint32_t n;
  if (!d.U32(&n)) return false;
  event_ids->clear();
  for (uint32_t i = 0; i < n; ++i) {
    std::string id;
    if (!d.String(&id)) return false;
    event_ids->push_back(std::move(id));
  }
  return d.done();
}

SpoolRecordReader::Result SpoolRecordReader::Next(SpoolRecordType* type,
                                                  std::string* payload) {
  char header[kSpoolFrameBytes];
  size_t got = fread(header, 1, sizeof(header), file_);
  if (got == 0 && feof(file_)) return Result::kEnd;
  if (got != sizeof(header)) return Result::kTorn;
  absl::string_view length_bytes(header, 4);
  uint64_t length = 0, crc = 0;
  for (int i = 0; i < 4; ++i) {
    length |= uint64_t{static_cast<uint8_t>(header[i])} << (8 * i);
    crc |= uint64_t{static_cast<uint8_t>(header[4 + i])} << (8 * i);
  }
  if (length > kMaxSpoolRecordBytes) return Result::kTorn;
  payload->resize(length);
  if (length > 0 && fread(&(*payload)[0], 1, length, file_) != length) {
    return Result::kTorn;
  }
  uint8_t t = static_cast<uint8_t>(header[8]);
  if (FrameCrc(length_bytes, t, *payload) != crc) return Result::kTorn;
  *type = static_cast<SpoolRecordType>(t);
  valid_end_ += static_cast<int64_t>(sizeof(header) + length);
  return Result::kRecord;
}

}  // namespace relaysync
