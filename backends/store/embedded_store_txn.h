// Internal to the embedded store (include only from embedded_store*.cc):
// small Berkeley DB handle helpers (those shared with the map writer are in
// backends/bdb.h), and EmbeddedStore::Txn, one attempt of one transaction,
// which keeps records, the two time indexes, the change log and the meta
// counters in step.
#ifndef RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_TXN_H_
#define RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_TXN_H_

#include <db.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backends/store/embedded_store.h"
#include "backends/store/relay_record.h"

namespace relaysync {
namespace embedded {

// meta.db keys. kFormat 2 added by_login.db and by_delete.db; 3 lets a
// records.db value carry an attribution; 4 keeps the change log in runs
// (embedded_store_codec.h). A format 2 or 3 store opens with its change
// log emptied and is marked 4, so that an older relaysync refuses it
// rather than meet a value it cannot read.
inline constexpr char kFormat[] = "4";
inline constexpr char kFormatWithoutAttribution[] = "2";
inline constexpr char kFormatChangePerEntry[] = "3";
inline constexpr char kMetaFormat[] = "format";
inline constexpr char kMetaEpoch[] = "epoch";
inline constexpr char kMetaVersion[] = "version";
inline constexpr char kMetaOldest[] = "oldest";  // oldest retained change
inline constexpr char kMetaCount[] = "count";    // present records

// An output DBT in memory we own, as DB_THREAD handles require.
class Buffer {
 public:
  Buffer() {
    std::memset(&dbt_, 0, sizeof(dbt_));
    dbt_.flags = DB_DBT_REALLOC;
  }
  ~Buffer() { std::free(dbt_.data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  DBT* dbt() { return &dbt_; }
  absl::string_view view() const {
    return absl::string_view(static_cast<const char*>(dbt_.data), dbt_.size);
  }

 private:
  DBT dbt_;
};

// Closes a cursor on error paths; Close() reports the result on the
// normal path.
class Cursor {
 public:
  Cursor() = default;
  ~Cursor() {
    if (c_ != nullptr) c_->close(c_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  DBC** out() { return &c_; }
  DBC* operator->() const { return c_; }
  DBC* get() const { return c_; }
  int Close() {
    DBC* c = c_;
    c_ = nullptr;
    return c->close(c);
  }

 private:
  DBC* c_ = nullptr;
};

}  // namespace embedded

// Every write of a record goes through here, so that its index entry moves
// with it: a present record has exactly one by_login entry (login_time,
// address), an absent one (a tombstone) exactly one by_delete entry
// (delete_time, address). For mutations it also carries the counters read
// at its start and the changes made so far; Finish() writes them back.
// Nothing here outlives the attempt, so a retry starts clean.
class EmbeddedStore::Txn {
 public:
  using Rule = std::function<bool(RelayRecord&)>;

  Txn(EmbeddedStore& store, DB_TXN* txn) : store_(store), txn_(txn) {}

  DB_TXN* raw() const { return txn_; }
  MutationResult& result() { return result_; }

  // A missing key is DataLoss.
  absl::StatusOr<std::string> GetMeta(const char* key);
  absl::StatusOr<uint64_t> GetMetaU64(const char* key);
  absl::Status PutMeta(const char* key, absl::string_view value);

  // Reads the version, oldest retained change and count for a mutation.
  absl::Status Begin();
  // Applies `rule` to the record of `address` (absent: {0, 0}) and stores
  // the result. Returns what the rule returned: the visible state changed.
  absl::StatusOr<bool> Apply(const std::string& address, const Rule& rule);
  // Expire's two walks, each over the due prefix of one index. ExpireDue
  // turns every present record with login_time <= `cutoff` into a
  // tombstone, or erases it at once if that would be <= `forget_before`;
  // ForgetDue erases every tombstone with delete_time <= `forget_before`.
  absl::Status ExpireDue(int64_t cutoff, int64_t forget_before);
  absl::Status ForgetDue(int64_t forget_before);
  // Appends the changes to the log, trims it to `limit` entries and
  // updates the meta counters.
  absl::Status Finish(size_t limit);

  // Deletes the change log's entries that hold only versions below
  // `before`.
  absl::Status TrimLog(uint64_t before);
  // After Begin(): empties the change log, so that readers from any
  // earlier version need a snapshot (the upgrade from a format whose log
  // entries differ).
  absl::Status DropLog();

  // See EmbeddedStore::CheckIndexes.
  absl::Status CheckIndexes();
  // Present records whose login time is later than `ticks`, walking
  // by_login from its end.
  absl::StatusOr<int64_t> CountLaterThan(int64_t ticks);

 private:
  // Where a record's index entry lives; db == nullptr for none.
  struct IndexEntry {
    DB* db = nullptr;
    std::string key;
    bool operator==(const IndexEntry& o) const {
      return db == o.db && key == o.key;
    }
  };
  IndexEntry IndexOf(absl::string_view address, const RelayRecord& r) const;
  const char* IndexName(DB* db) const;

  // The record of `address` into `rec`; false (and `rec` untouched) if
  // there is none.
  absl::StatusOr<bool> Load(absl::string_view address, RelayRecord* rec);
  // Stores `after`, or erases the record when `erase`, and moves the index
  // entry from where `before` (nullptr: no record) had it.
  absl::Status Write(absl::string_view address, const RelayRecord* before,
                     const RelayRecord& after, bool erase);
  // Up to a batch of (time, address) from the start of `index` with
  // time <= `limit`; empty when none is due.
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> Due(
      DB* index, int64_t limit);
  // The record that index entry (`index`, `time`, `address`) names,
  // DataLoss unless it exists and agrees.
  absl::StatusOr<RelayRecord> LoadIndexed(DB* index, int64_t time,
                                          absl::string_view address);
  // Keeps the count, and gives a visible change the next version.
  void Account(absl::string_view address, bool was_present,
               const RelayRecord& now, bool visible);
  // Counts the entries of `index`, checking that each key decodes.
  absl::StatusOr<int64_t> CountIndex(DB* index);

  EmbeddedStore& store_;
  DB_TXN* const txn_;
  uint64_t version_ = 0;
  uint64_t start_version_ = 0;
  uint64_t oldest_ = 0;
  int64_t count_ = 0;
  int64_t start_count_ = 0;
  MutationResult result_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_TXN_H_
