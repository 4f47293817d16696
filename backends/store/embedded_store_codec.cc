#include "backends/store/embedded_store_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace relaysync::embedded {
namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;

void AppendField(absl::string_view field, std::string* out) {
  out->push_back(static_cast<char>((field.size() >> 8) & 0xff));
  out->push_back(static_cast<char>(field.size() & 0xff));
  out->append(field.data(), field.size());
}

// Takes one length-prefixed field of at most `max` bytes off the front of
// `*s`.
bool TakeField(absl::string_view* s, size_t max, std::string* field) {
  if (s->size() < 2) return false;
  const size_t n =
      (static_cast<size_t>(static_cast<unsigned char>((*s)[0])) << 8) |
      static_cast<unsigned char>((*s)[1]);
  if (n > max || s->size() - 2 < n) return false;
  field->assign(s->data() + 2, n);
  s->remove_prefix(2 + n);
  return true;
}

}  // namespace

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

uint64_t DecodeU64(absl::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

std::string EncodeRecord(const RelayRecord& r) {
  std::string out =
      absl::StrCat(EncodeU64(static_cast<uint64_t>(r.login_time)),
                   EncodeU64(static_cast<uint64_t>(r.delete_time)));
  if (!r.who.empty()) {
    AppendField(r.who.host, &out);
    AppendField(r.who.user, &out);
  }
  return out;
}

bool DecodeRecord(absl::string_view s, RelayRecord* r) {
  if (s.size() < 16) return false;
  Attribution who;
  absl::string_view rest = s.substr(16);
  if (!rest.empty() &&
      (!TakeField(&rest, kMaxAttributionField, &who.host) ||
       !TakeField(&rest, kMaxAttributionField, &who.user) || !rest.empty())) {
    return false;
  }
  r->login_time = static_cast<int64_t>(DecodeU64(s.substr(0, 8)));
  r->delete_time = static_cast<int64_t>(DecodeU64(s.substr(8, 8)));
  r->who = std::move(who);
  return true;
}

void AppendChange(const StateChange& c, std::string* run) {
  run->append(EncodeU64(static_cast<uint64_t>(c.ticks)));
  run->push_back(c.removed ? '\1' : '\0');
  AppendField(c.address, run);
}

bool DecodeChangeRun(absl::string_view run, std::vector<StateChange>* out) {
  if (run.empty()) return false;
  while (!run.empty()) {
    if (run.size() < 9) return false;
    StateChange c;
    c.ticks = static_cast<int64_t>(DecodeU64(run.substr(0, 8)));
    c.removed = run[8] != '\0';
    run.remove_prefix(9);
    if (!TakeField(&run, kMaxChangeAddress, &c.address) || c.address.empty()) {
      return false;
    }
    out->push_back(std::move(c));
  }
  return true;
}

std::string EncodeIndexKey(int64_t time, absl::string_view address) {
  return absl::StrCat(EncodeU64(static_cast<uint64_t>(time) ^ kSignBit),
                      address);
}

bool DecodeIndexKey(absl::string_view key, int64_t* time,
                    absl::string_view* address) {
  if (key.size() <= 8) return false;
  *time = static_cast<int64_t>(DecodeU64(key) ^ kSignBit);
  *address = key.substr(8);
  return true;
}

}  // namespace relaysync::embedded
