#include "common/address.h"

#include <cstdio>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace relaysync {
namespace {

constexpr absl::string_view kSendmailV6Tag = "ipv6:";

// Texts longer than this are quoted by their start only: the text may come
// from a peer (a 4 MiB login batch), and the message goes to the log.
constexpr size_t kMaxQuotedBytes = 64;

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  std::string quoted = absl::CHexEscape(text.substr(0, kMaxQuotedBytes));
  if (text.size() > kMaxQuotedBytes) {
    absl::StrAppend(&quoted, "...\" (", text.size(), " bytes)");
  } else {
    absl::StrAppend(&quoted, "\"");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid IP address \"", quoted, ": ", why));
}

// Parses one decimal IPv4 part; false on anything but 0..255 without a
// leading zero.
bool ParseV4Part(absl::string_view part, uint8_t* out) {
  if (part.empty() || part.size() > 3) return false;
  if (part.size() > 1 && part[0] == '0') return false;
  int value = 0;
  for (char c : part) {
    if (!absl::ascii_isdigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > 255) return false;
  *out = static_cast<uint8_t>(value);
  return true;
}

bool ParseV4(absl::string_view text, uint8_t out[4]) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  for (int i = 0; i < 4; ++i) {
    if (!ParseV4Part(parts[i], &out[i])) return false;
  }
  return true;
}

// Parses 1..4 hex digits.
bool ParseHexGroup(absl::string_view group, uint16_t* out) {
  if (group.empty() || group.size() > 4) return false;
  unsigned value = 0;
  for (char c : group) {
    if (!absl::ascii_isxdigit(c)) return false;
    value =
        value * 16 +
        (absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
  }
  *out = static_cast<uint16_t>(value);
  return true;
}

// Parses a run of ':'-separated groups (no "::"), the last of which may be
// an embedded dotted quad when `allow_v4_tail`. Appends 16-bit words.
bool ParseGroups(absl::string_view text, bool allow_v4_tail,
                 std::vector<uint16_t>* words) {
  if (text.empty()) return true;
  std::vector<absl::string_view> groups = absl::StrSplit(text, ':');
  for (size_t i = 0; i < groups.size(); ++i) {
    if (allow_v4_tail && i + 1 == groups.size() &&
        absl::StrContains(groups[i], '.')) {
      uint8_t q[4];
      if (!ParseV4(groups[i], q)) return false;
      words->push_back(static_cast<uint16_t>(q[0] << 8 | q[1]));
      words->push_back(static_cast<uint16_t>(q[2] << 8 | q[3]));
      continue;
    }
    uint16_t w;
    if (!ParseHexGroup(groups[i], &w)) return false;
    words->push_back(w);
  }
  return true;
}

bool ParseV6(absl::string_view text, std::array<uint8_t, 16>* out) {
  std::vector<uint16_t> head, tail;
  size_t gap = text.find("::");
  if (gap == absl::string_view::npos) {
    if (!ParseGroups(text, true, &head) || head.size() != 8) return false;
  } else {
    if (text.find("::", gap + 1) != absl::string_view::npos) return false;
    absl::string_view before = text.substr(0, gap);
    absl::string_view after = text.substr(gap + 2);
    if (!ParseGroups(before, false, &head) ||
        !ParseGroups(after, true, &tail)) {
      return false;
    }
    // "::" stands for at least one zero group.
    if (head.size() + tail.size() > 7) return false;
    head.resize(8 - tail.size(), 0);
    head.insert(head.end(), tail.begin(), tail.end());
  }
  for (int i = 0; i < 8; ++i) {
    (*out)[2 * i] = static_cast<uint8_t>(head[i] >> 8);
    (*out)[2 * i + 1] = static_cast<uint8_t>(head[i] & 0xff);
  }
  return true;
}

bool IsV4Mapped(const std::array<uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

uint16_t Word(const std::array<uint8_t, 16>& b, int i) {
  return static_cast<uint16_t>(b[2 * i] << 8 | b[2 * i + 1]);
}

}  // namespace

absl::StatusOr<KeyStyle> ParseKeyStyle(absl::string_view text) {
  if (text == "canonical") return KeyStyle::kCanonical;
  if (text == "sendmail") return KeyStyle::kSendmail;
  if (text == "exim") return KeyStyle::kExim;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid key style \"", text,
                   "\": expected canonical, sendmail or exim"));
}

absl::StatusOr<Address> Address::ParseKey(absl::string_view key) {
  // "hhhh.hhhh.hhhh.hhhh.hhhh.hhhh.hhhh.hhhh", lower case.
  if (key.size() != 39) return Parse(key);
  std::array<uint8_t, 16> bytes{};
  for (int i = 0; i < 8; ++i) {
    if (i > 0 && key[5 * i - 1] != '.') return Parse(key);
    uint16_t word = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = key[5 * i + j];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else {
        return Parse(key);
      }
      word = static_cast<uint16_t>(word << 4 | digit);
    }
    bytes[2 * i] = static_cast<uint8_t>(word >> 8);
    bytes[2 * i + 1] = static_cast<uint8_t>(word & 0xff);
  }
  // Through the text form, so that IPv4-mapped folds as Parse folds it.
  return Parse(Address(Family::kV6, bytes).ToString());
}

absl::StatusOr<Address> Address::Parse(absl::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  std::array<uint8_t, 16> bytes{};
  bool tagged = absl::StartsWithIgnoreCase(text, kSendmailV6Tag);
  if (!tagged && !absl::StrContains(text, ':')) {
    if (!ParseV4(text, bytes.data())) {
      return Invalid(text,
                     "expected a dotted quad of four decimal numbers 0-255 "
                     "without leading zeros, e.g. 10.11.12.13");
    }
    return Address(Family::kV4, bytes);
  }
  absl::string_view v6 = tagged ? text.substr(kSendmailV6Tag.size()) : text;
  if (absl::StrContains(v6, '%')) {
    return Invalid(text, "IPv6 zone ids are not supported");
  }
  if (absl::StrContains(v6, '/')) {
    return Invalid(text, "expected a single address, not a prefix");
  }
  if (!ParseV6(v6, &bytes)) {
    return Invalid(text, "not a valid IPv6 address");
  }
  if (IsV4Mapped(bytes)) {
    std::array<uint8_t, 16> v4{};
    for (int i = 0; i < 4; ++i) v4[i] = bytes[12 + i];
    return Address(Family::kV4, v4);
  }
  return Address(Family::kV6, bytes);
}

std::string Address::ToString() const {
  if (family_ == Family::kV4) {
    return absl::StrCat(bytes_[0], ".", bytes_[1], ".", bytes_[2], ".",
                        bytes_[3]);
  }
  // RFC 5952: the longest run (first if tied) of two or more zero words
  // becomes "::"; hex is lower case without leading zeros.
  int best_start = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (Word(bytes_, i) != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && Word(bytes_, j) == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = -1;
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    char buf[5];
    std::snprintf(buf, sizeof(buf), "%x", Word(bytes_, i));
    out += buf;
  }
  return out;
}

std::string Address::ToKey(KeyStyle style) const {
  if (family_ == Family::kV4 || style == KeyStyle::kCanonical) {
    return ToString();
  }
  if (style == KeyStyle::kExim) {
    std::string out;
    for (int i = 0; i < 8; ++i) {
      char buf[6];
      std::snprintf(buf, sizeof(buf), i == 0 ? "%04x" : ".%04x",
                    Word(bytes_, i));
      out += buf;
    }
    return out;
  }
  std::vector<std::string> words;
  for (int i = 0; i < 8; ++i) {
    char buf[5];
    std::snprintf(buf, sizeof(buf), "%x", Word(bytes_, i));
    words.emplace_back(buf);
  }
  return absl::StrCat(kSendmailV6Tag, absl::StrJoin(words, ":"));
}

std::vector<std::string> Address::KeySpellings(KeyStyle first) const {
  if (family_ == Family::kV4) return {ToString()};
  if (first == KeyStyle::kExim) {
    std::vector<std::string> keys = {ToKey(first)};
    for (std::string& k : KeySpellings(KeyStyle::kSendmail)) {
      keys.push_back(std::move(k));
    }
    return keys;
  }
  const KeyStyle other =
      first == KeyStyle::kSendmail ? KeyStyle::kCanonical : KeyStyle::kSendmail;
  std::vector<std::string> keys = {ToKey(first), ToKey(other),
                                   absl::StrCat(kSendmailV6Tag, ToString())};
  // "ipv6:" + compressed equals the full form when nothing is compressed.
  if (keys[2] == ToKey(KeyStyle::kSendmail)) keys.pop_back();
  return keys;
}

Address Address::FromBytes(Family family,
                           const std::array<uint8_t, 16>& bytes) {
  return Address(family, bytes);
}

bool operator<(const Address& a, const Address& b) {
  return std::tie(a.family_, a.bytes_) < std::tie(b.family_, b.bytes_);
}

}  // namespace relaysync
