#include "cli/entry_format.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "common/address.h"
#include "common/ticks.h"

namespace relaysync {

void SortEntries(std::vector<ListedEntry>* entries) {
  struct Keyed {
    std::optional<Address> address;
    ListedEntry entry;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(entries->size());
  for (ListedEntry& e : *entries) {
    absl::StatusOr<Address> a = Address::ParseKey(e.entry.key);
    keyed.push_back(Keyed{a.ok() ? std::optional<Address>(*a) : std::nullopt,
                          std::move(e)});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& x, const Keyed& y) {
    if (x.address.has_value() != y.address.has_value()) {
      return x.address.has_value();
    }
    if (x.address.has_value() && !(*x.address == *y.address)) {
      return *x.address < *y.address;
    }
    return x.entry.entry.key < y.entry.entry.key;
  });
  entries->clear();
  for (Keyed& k : keyed) entries->push_back(std::move(k.entry));
}

void WriteEntry(const MapEntry& entry, const Attribution* who,
                std::ostream& out) {
  absl::StatusOr<int64_t> ticks = ParseTicks(entry.value, "value");
  if (ticks.ok()) {
    out << "# timestamp (UTC): " << FormatCtimeUtc(*ticks) << "\n";
  } else {
    out << "# timestamp (UTC): unreadable value\n";
  }
  if (who != nullptr) {
    if (who->empty()) {
      out << "# attribution: unknown\n";
    } else {
      out << "# attribution: host=" << EscapeAttributionField(who->host)
          << " user=" << EscapeAttributionField(who->user) << "\n";
    }
  }
  out << entry.key << "\t" << entry.value << "\n";
}

std::string EscapeAttributionField(absl::string_view field) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(field.size());
  for (char c : field) {
    const unsigned char b = static_cast<unsigned char>(c);
    if (b > ' ' && b < 0x7f && b != '\\') {
      out.push_back(c);
    } else {
      out.append({'\\', 'x', kHex[b >> 4], kHex[b & 0xf]});
    }
  }
  return out;
}

}  // namespace relaysync
