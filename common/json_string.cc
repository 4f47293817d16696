#include "common/json_string.h"

#include <cstddef>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace relaysync {
namespace {

// Length of the well-formed UTF-8 sequence starting at bytes[i] (RFC 3629,
// Unicode table 3-7), or 0 if there is none.
size_t Utf8SequenceLength(absl::string_view bytes, size_t i) {
  const auto at = [&](size_t k) -> uint8_t {
    return i + k < bytes.size() ? static_cast<uint8_t>(bytes[i + k]) : 0;
  };
  const auto continuation = [](uint8_t b) { return (b & 0xC0) == 0x80; };
  const uint8_t b0 = at(0);
  if (b0 < 0x80) return 1;
  // The second byte's range depends on the first: this is what rules out
  // overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code
  // points above U+10FFFF (F4 90..BF).
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  size_t length = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 80..C1 (continuation or overlong lead) and F5..FF
  }
  if (at(1) < lo || at(1) > hi) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (!continuation(at(k))) return 0;
  }
  return length;
}

}  // namespace

void AppendJsonString(std::string* out, absl::string_view bytes) {
  out->push_back('"');
  for (size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(bytes, i);
      if (length == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(bytes.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

}  // namespace relaysync
