#include "cli/entry_format.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "common/address.h"
#include "common/ticks.h"

namespace relaysync {

void SortEntries(std::vector<MapEntry>* entries) {
  struct Keyed {
    std::optional<Address> address;
    MapEntry entry;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(entries->size());
  for (MapEntry& e : *entries) {
    absl::StatusOr<Address> a = Address::Parse(e.key);
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
    return x.entry.key < y.entry.key;
  });
  entries->clear();
  for (Keyed& k : keyed) entries->push_back(std::move(k.entry));
}

void WriteEntry(const MapEntry& entry, std::ostream& out) {
  absl::StatusOr<int64_t> ticks = ParseTicks(entry.value, "value");
  if (ticks.ok()) {
    out << "# timestamp (UTC): " << FormatCtimeUtc(*ticks) << "\n";
  } else {
    out << "# timestamp (UTC): unreadable value\n";
  }
  out << entry.key << "\t" << entry.value << "\n";
}

}  // namespace relaysync
