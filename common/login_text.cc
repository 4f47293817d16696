#include "common/login_text.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace relaysync {

std::string CleanLoginText(absl::string_view raw, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(raw.size(), max_bytes));
  for (size_t i = 0; i < raw.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    std::string piece;
    if (c < 0x20 || c == 0x7f) {
      piece = absl::StrFormat("\\x%02x", c);
    } else if (c >= 0xc0) {
      // A UTF-8 lead byte: keep its continuation bytes with it, so a cut
      // never leaves half a character.
      size_t n = 1;
      while (i + n < raw.size() &&
             (static_cast<unsigned char>(raw[i + n]) & 0xc0) == 0x80 && n < 4) {
        ++n;
      }
      piece = std::string(raw.substr(i, n));
      i += n - 1;
    } else {
      piece = std::string(1, static_cast<char>(c));
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
  }
  return out;
}

}  // namespace relaysync
