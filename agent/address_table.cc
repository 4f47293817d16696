#include "agent/address_table.h"

#include <algorithm>
#include <utility>

namespace relaysync {

AddressTable::V4 AddressTable::V4Key(const Address& a) {
  const std::array<uint8_t, 16>& b = a.bytes();
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
         (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

Address AddressTable::FromKey(V4 key) {
  std::array<uint8_t, 16> b{};
  b[0] = static_cast<uint8_t>(key >> 24);
  b[1] = static_cast<uint8_t>(key >> 16);
  b[2] = static_cast<uint8_t>(key >> 8);
  b[3] = static_cast<uint8_t>(key);
  return Address::FromBytes(Address::Family::kV4, b);
}

Address AddressTable::FromKey(const V6& key) {
  return Address::FromBytes(Address::Family::kV6, key);
}

AddressTable::Cell AddressTable::Get(const Address& address) const {
  return address.family() == Address::Family::kV4 ? v4_.Get(V4Key(address))
                                                  : v6_.Get(address.bytes());
}

void AddressTable::Set(const Address& address, const Cell& cell) {
  if (address.family() == Address::Family::kV4) {
    v4_.Set(V4Key(address), cell);
  } else {
    v6_.Set(address.bytes(), cell);
  }
}

void AddressTable::SetCluster(const Address& address, int64_t ticks) {
  if (address.family() == Address::Family::kV4) {
    v4_.Update(V4Key(address), /*cluster=*/true, ticks);
  } else {
    v6_.Update(address.bytes(), /*cluster=*/true, ticks);
  }
}

void AddressTable::SetWritten(const Address& address, int64_t ticks) {
  if (address.family() == Address::Family::kV4) {
    v4_.Update(V4Key(address), /*cluster=*/false, ticks);
  } else {
    v6_.Update(address.bytes(), /*cluster=*/false, ticks);
  }
}

void AddressTable::AssignCluster(
    std::vector<std::pair<Address, int64_t>> entries) {
  if (size() != 0) {
    for (const auto& [address, ticks] : entries) SetCluster(address, ticks);
    return;
  }
  for (const auto& [address, ticks] : entries) {
    if (address.family() == Address::Family::kV4) {
      v4_.Append(V4Key(address), ticks);
    } else {
      v6_.Append(address.bytes(), ticks);
    }
  }
  entries = {};
  v4_.Sort();
  v6_.Sort();
}

size_t AddressTable::size() const { return v4_.size() + v6_.size(); }

void AddressTable::ClearCluster() {
  v4_.Clear(/*cluster=*/true);
  v6_.Clear(/*cluster=*/true);
}

void AddressTable::ClearWritten() {
  v4_.Clear(/*cluster=*/false);
  v6_.Clear(/*cluster=*/false);
}

template <typename Key>
typename AddressTable::Shard<Key>::Row* AddressTable::Shard<Key>::Find(
    const Key& key) {
  // Bulk updates come in the table's own order (ForEach): try the row
  // after the last one found before searching.
  if (++hint_ < rows_.size() && rows_[hint_].key == key) return &rows_[hint_];
  auto it = std::lower_bound(
      rows_.begin(), rows_.end(), key,
      [](const Row& row, const Key& k) { return row.key < k; });
  if (it == rows_.end() || !(it->key == key)) return nullptr;
  hint_ = static_cast<size_t>(it - rows_.begin());
  return &*it;
}

template <typename Key>
const typename AddressTable::Shard<Key>::Row* AddressTable::Shard<Key>::Find(
    const Key& key) const {
  return const_cast<Shard*>(this)->Find(key);
}

template <typename Key>
AddressTable::Cell AddressTable::Shard<Key>::Get(const Key& key) const {
  if (!wide_.empty()) {
    if (auto it = wide_.find(key); it != wide_.end()) return it->second;
  }
  if (const Row* row = Find(key); row != nullptr) {
    return Cell{Unpack(row->cluster), Unpack(row->written)};
  }
  if (auto it = recent_.find(key); it != recent_.end()) {
    return Cell{Unpack(it->second.first), Unpack(it->second.second)};
  }
  return Cell{};
}

template <typename Key>
void AddressTable::Shard<Key>::Set(const Key& key, const Cell& cell) {
  const bool fits = Fits(cell.cluster) && Fits(cell.written);
  // Take it out of wherever else it is.
  if (!wide_.empty()) wide_.erase(key);
  Row* row = Find(key);
  auto recent = row == nullptr ? recent_.find(key) : recent_.end();
  if (!fits || cell.empty()) {
    if (row != nullptr &&
        (row->cluster != kNone32 || row->written != kNone32)) {
      row->cluster = row->written = kNone32;
      ++dead_;
    }
    if (recent != recent_.end()) recent_.erase(recent);
    if (!cell.empty()) wide_[key] = cell;
    if (dead_ > 1024 && dead_ > rows_.size() / 2) Merge();
    return;
  }
  const uint32_t cluster = Pack(cell.cluster), written = Pack(cell.written);
  if (row != nullptr) {
    if (row->cluster == kNone32 && row->written == kNone32) --dead_;
    row->cluster = cluster;
    row->written = written;
    return;
  }
  if (recent != recent_.end()) {
    recent->second = {cluster, written};
    return;
  }
  recent_.emplace(key, std::make_pair(cluster, written));
  if (recent_.size() > std::max<size_t>(1024, rows_.size() / 8)) Merge();
}

template <typename Key>
void AddressTable::Shard<Key>::Update(const Key& key, bool cluster,
                                      int64_t ticks) {
  if (wide_.empty() && Fits(ticks)) {
    if (Row* row = Find(key); row != nullptr) {
      const bool was_dead = row->cluster == kNone32 && row->written == kNone32;
      (cluster ? row->cluster : row->written) = Pack(ticks);
      const bool dead = row->cluster == kNone32 && row->written == kNone32;
      if (dead && !was_dead) ++dead_;
      if (was_dead && !dead) --dead_;
      return;
    }
  }
  Cell cell = Get(key);
  (cluster ? cell.cluster : cell.written) = ticks;
  Set(key, cell);
}

template <typename Key>
void AddressTable::Shard<Key>::Append(const Key& key, int64_t cluster) {
  if (!Fits(cluster)) {
    wide_[key] = Cell{cluster, kNone};
    return;
  }
  rows_.push_back(Row{key, Pack(cluster), kNone32});
}

template <typename Key>
void AddressTable::Shard<Key>::Sort() {
  // Stable, so that of duplicates the last appended is last; it wins.
  std::stable_sort(rows_.begin(), rows_.end(),
                   [](const Row& a, const Row& b) { return a.key < b.key; });
  auto last =
      std::unique(rows_.rbegin(), rows_.rend(),
                  [](const Row& a, const Row& b) { return a.key == b.key; });
  rows_.erase(rows_.begin(), last.base());
  rows_.shrink_to_fit();
  for (const Row& row : rows_) wide_.erase(row.key);
}

template <typename Key>
void AddressTable::Shard<Key>::Clear(bool cluster) {
  for (Row& row : rows_) {
    if (row.cluster == kNone32 && row.written == kNone32) continue;
    (cluster ? row.cluster : row.written) = kNone32;
    if (row.cluster == kNone32 && row.written == kNone32) ++dead_;
  }
  for (auto it = recent_.begin(); it != recent_.end();) {
    (cluster ? it->second.first : it->second.second) = kNone32;
    if (it->second.first == kNone32 && it->second.second == kNone32) {
      recent_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = wide_.begin(); it != wide_.end();) {
    (cluster ? it->second.cluster : it->second.written) = kNone;
    if (it->second.empty()) {
      wide_.erase(it++);
    } else {
      ++it;
    }
  }
  if (dead_ > rows_.size() / 2) Merge();
}

template <typename Key>
void AddressTable::Shard<Key>::Merge() {
  std::vector<Row> added;
  added.reserve(recent_.size());
  for (const auto& [key, packed] : recent_) {
    added.push_back(Row{key, packed.first, packed.second});
  }
  recent_ = {};  // gives its memory back, unlike clear()
  std::sort(added.begin(), added.end(),
            [](const Row& a, const Row& b) { return a.key < b.key; });
  std::vector<Row> merged;
  merged.reserve(rows_.size() - dead_ + added.size());
  auto a = rows_.begin();
  auto b = added.begin();
  while (a != rows_.end() || b != added.end()) {
    if (b == added.end() || (a != rows_.end() && a->key < b->key)) {
      if (a->cluster != kNone32 || a->written != kNone32) merged.push_back(*a);
      ++a;
    } else {
      merged.push_back(*b++);  // never in rows_ (Set looks there first)
    }
  }
  rows_.swap(merged);
  dead_ = 0;
}

template class AddressTable::Shard<AddressTable::V4>;
template class AddressTable::Shard<AddressTable::V6>;

}  // namespace relaysync
