// AddressTable: what the agent's materializer knows about each address (the
// cluster's timestamp, and what its map holds), in about 12 bytes per IPv4
// address and 24 per IPv6 one, so that an agent holding a million entries
// stays small (docs/maps.md). The map itself is on disk; this is the index
// that says what to write.
//
// Rows live in a vector sorted by address (binary search, no per-entry
// allocation); new addresses go to a small hash table first and are merged
// into the vector in bulk, so that adding n addresses one by one costs
// O(n log n) in all. Timestamps that do not fit in 32 bits (after 2106, or
// the "never expire" values some administrators use) go to a side table.
// Not thread-safe.
#ifndef RELAYSYNC_AGENT_ADDRESS_TABLE_H_
#define RELAYSYNC_AGENT_ADDRESS_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/address.h"

namespace relaysync {

class AddressTable {
 public:
  static constexpr int64_t kNone = -1;  // no entry (ticks are never < 0)

  struct Cell {
    int64_t cluster = kNone;  // the cluster state's timestamp
    int64_t written = kNone;  // what the map holds
    bool empty() const { return cluster == kNone && written == kNone; }
  };

  // {kNone, kNone} for an address the table does not hold.
  Cell Get(const Address& address) const;
  // An empty cell removes the address.
  void Set(const Address& address, const Cell& cell);
  // Set() of one side of the cell, in one lookup where the address is
  // held already.
  void SetCluster(const Address& address, int64_t ticks);
  void SetWritten(const Address& address, int64_t ticks);
  // Fills an empty table with cluster timestamps, in O(n log n) without a
  // lookup per entry; the last of duplicate addresses wins.
  void AssignCluster(std::vector<std::pair<Address, int64_t>> entries);
  // Addresses held (cells not empty).
  size_t size() const;

  // Calls f(const Address&, const Cell&) for every address held, in no
  // particular order. `f` must not change the table.
  template <typename F>
  void ForEach(F&& f) const {
    v4_.ForEach(f);
    v6_.ForEach(f);
  }
  // Sets every cell's cluster (ClearCluster) or written (ClearWritten)
  // timestamp to kNone, dropping cells that become empty.
  void ClearCluster();
  void ClearWritten();

 private:
  // Timestamps as stored: kNone32 for none, kWide32 for "see wide_".
  static constexpr uint32_t kNone32 = 0xffffffff;
  static constexpr uint32_t kWide32 = 0xfffffffe;

  template <typename Key>
  class Shard {
   public:
    Cell Get(const Key& key) const;
    void Set(const Key& key, const Cell& cell);
    void Update(const Key& key, bool cluster, int64_t ticks);
    // Appends rows for an empty shard; Sort() when done.
    void Append(const Key& key, int64_t cluster);
    void Sort();
    size_t size() const {
      return rows_.size() - dead_ + recent_.size() + wide_.size();
    }
    template <typename F>
    void ForEach(F& f) const;
    void Clear(bool cluster);

   private:
    struct Row {
      Key key;
      uint32_t cluster;
      uint32_t written;
    };
    static bool Fits(int64_t ticks) {
      return ticks == kNone || (ticks >= 0 && ticks < kWide32);
    }
    static uint32_t Pack(int64_t ticks) {
      return ticks == kNone ? kNone32 : static_cast<uint32_t>(ticks);
    }
    static int64_t Unpack(uint32_t ticks) {
      return ticks == kNone32 ? kNone : static_cast<int64_t>(ticks);
    }
    Row* Find(const Key& key);
    const Row* Find(const Key& key) const;
    // Merges recent_ into rows_ and drops dead rows.
    void Merge();

    std::vector<Row> rows_;  // sorted by key; a dead row has both kNone32
    size_t dead_ = 0;
    mutable size_t hint_ = 0;  // the row Find() found last
    // Addresses not in rows_ yet.
    absl::flat_hash_map<Key, std::pair<uint32_t, uint32_t>> recent_;
    // Cells with a timestamp that does not fit in 32 bits (in neither of
    // the others).
    absl::flat_hash_map<Key, Cell> wide_;
  };

  using V4 = uint32_t;
  using V6 = std::array<uint8_t, 16>;
  static V4 V4Key(const Address& a);
  static Address FromKey(V4 key);
  static Address FromKey(const V6& key);

  Shard<V4> v4_;
  Shard<V6> v6_;
};

template <typename Key>
template <typename F>
void AddressTable::Shard<Key>::ForEach(F& f) const {
  for (const Row& row : rows_) {
    if (row.cluster == kNone32 && row.written == kNone32) continue;
    f(FromKey(row.key), Cell{Unpack(row.cluster), Unpack(row.written)});
  }
  for (const auto& [key, packed] : recent_) {
    f(FromKey(key), Cell{Unpack(packed.first), Unpack(packed.second)});
  }
  for (const auto& [key, cell] : wide_) f(FromKey(key), cell);
}

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_ADDRESS_TABLE_H_
