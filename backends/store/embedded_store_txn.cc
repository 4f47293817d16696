#include "backends/store/embedded_store_txn.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backends/bdb.h"
#include "backends/store/embedded_store_codec.h"

namespace relaysync {

using bdb::In;
using embedded::AppendChange;
using embedded::Buffer;
using embedded::Cursor;
using embedded::DecodeIndexKey;
using embedded::DecodeRecord;
using embedded::DecodeU64;
using embedded::EncodeIndexKey;
using embedded::EncodeRecord;
using embedded::EncodeU64;

namespace {

// Index entries taken per walk step of Expire: bounds the memory of one
// step, while each step costs only one O(log n) seek.
constexpr size_t kDueBatch = 1024;
// Changes per change log entry: about 5 KB of value for IPv4 addresses.
constexpr size_t kChangesPerEntry = 256;

bool SameRecord(const RelayRecord& a, const RelayRecord& b) {
  return a.login_time == b.login_time && a.delete_time == b.delete_time &&
         a.who == b.who;
}

std::string Describe(const RelayRecord& r) {
  return absl::StrCat("{login ", r.login_time, ", delete ", r.delete_time, "}");
}

}  // namespace

absl::StatusOr<std::string> EmbeddedStore::Txn::GetMeta(const char* key) {
  Buffer value;
  DBT k = In(key);
  int err = store_.meta_->get(store_.meta_, txn_, &k, value.dbt(), 0);
  if (err == DB_NOTFOUND) {
    return store_.Corrupt(absl::StrCat("meta ", key, " missing"));
  }
  if (err != 0) return store_.DbError(absl::StrCat("read meta ", key), err);
  return std::string(value.view());
}

absl::StatusOr<uint64_t> EmbeddedStore::Txn::GetMetaU64(const char* key) {
  absl::StatusOr<std::string> v = GetMeta(key);
  if (!v.ok()) return v.status();
  if (v->size() != 8) return store_.Corrupt(absl::StrCat("meta ", key));
  return DecodeU64(*v);
}

absl::Status EmbeddedStore::Txn::PutMeta(const char* key,
                                         absl::string_view value) {
  DBT k = In(key);
  DBT v = In(value);
  int err = store_.meta_->put(store_.meta_, txn_, &k, &v, 0);
  if (err != 0) return store_.DbError(absl::StrCat("write meta ", key), err);
  return absl::OkStatus();
}

absl::Status EmbeddedStore::Txn::Begin() {
  absl::StatusOr<uint64_t> v = GetMetaU64(embedded::kMetaVersion);
  absl::StatusOr<uint64_t> o = GetMetaU64(embedded::kMetaOldest);
  absl::StatusOr<uint64_t> n = GetMetaU64(embedded::kMetaCount);
  if (!v.ok()) return v.status();
  if (!o.ok()) return o.status();
  if (!n.ok()) return n.status();
  version_ = start_version_ = *v;
  oldest_ = *o;
  count_ = start_count_ = static_cast<int64_t>(*n);
  return absl::OkStatus();
}

absl::StatusOr<bool> EmbeddedStore::Txn::Apply(const std::string& address,
                                               const Rule& rule) {
  RelayRecord rec;
  absl::StatusOr<bool> found = Load(address, &rec);
  if (!found.ok()) return found.status();
  const RelayRecord before = rec;
  const bool visible = rule(rec);
  if (!SameRecord(rec, before)) {
    absl::Status s = Write(address, *found ? &before : nullptr, rec, false);
    if (!s.ok()) return s;
  }
  Account(address, before.present(), rec, visible);
  return visible;
}

absl::Status EmbeddedStore::Txn::ExpireDue(int64_t cutoff,
                                           int64_t forget_before) {
  for (;;) {
    auto due = Due(store_.by_login_, cutoff);
    if (!due.ok()) return due.status();
    if (due->empty()) return absl::OkStatus();
    for (const auto& [time, address] : *due) {
      absl::StatusOr<RelayRecord> rec =
          LoadIndexed(store_.by_login_, time, address);
      if (!rec.ok()) return rec.status();
      const RelayRecord before = *rec;
      rec->Expire(cutoff);
      const bool forget = rec->delete_time <= forget_before;
      absl::Status s = Write(address, &before, *rec, forget);
      if (!s.ok()) return s;
      Account(address, /*was_present=*/true, *rec, /*visible=*/true);
    }
  }
}

absl::Status EmbeddedStore::Txn::ForgetDue(int64_t forget_before) {
  for (;;) {
    auto due = Due(store_.by_delete_, forget_before);
    if (!due.ok()) return due.status();
    if (due->empty()) return absl::OkStatus();
    for (const auto& [time, address] : *due) {
      absl::StatusOr<RelayRecord> rec =
          LoadIndexed(store_.by_delete_, time, address);
      if (!rec.ok()) return rec.status();
      absl::Status s = Write(address, &*rec, *rec, /*erase=*/true);
      if (!s.ok()) return s;
    }
  }
}

absl::Status EmbeddedStore::Txn::Finish(size_t limit) {
  const uint64_t new_oldest =
      version_ + 1 > limit ? std::max(oldest_, version_ + 1 - limit) : oldest_;
  DB* log = store_.changelog_;
  if (new_oldest > oldest_ && oldest_ <= start_version_) {
    absl::Status s = TrimLog(std::min(new_oldest, start_version_ + 1));
    if (!s.ok()) return s;
  }
  // The changes are consecutive versions: runs of up to kChangesPerEntry,
  // each one entry under its last version.
  std::string run;
  size_t in_run = 0;
  for (size_t i = 0; i < result_.changes.size(); ++i) {
    const StateChange& c = result_.changes[i];
    if (c.version < new_oldest) continue;
    AppendChange(c, &run);
    if (++in_run < kChangesPerEntry && i + 1 < result_.changes.size()) {
      continue;
    }
    std::string key = EncodeU64(c.version);
    DBT k = In(key);
    DBT v = In(run);
    int err = log->put(log, txn_, &k, &v, 0);
    if (err != 0) return store_.DbError("append to change log", err);
    run.clear();
    in_run = 0;
  }
  absl::Status s;
  if (version_ != start_version_) {
    s = PutMeta(embedded::kMetaVersion, EncodeU64(version_));
  }
  if (s.ok() && new_oldest != oldest_) {
    s = PutMeta(embedded::kMetaOldest, EncodeU64(new_oldest));
  }
  if (s.ok() && count_ != start_count_) {
    s = PutMeta(embedded::kMetaCount, EncodeU64(static_cast<uint64_t>(count_)));
  }
  return s;
}

absl::Status EmbeddedStore::Txn::DropLog() {
  DB* log = store_.changelog_;
  u_int32_t dropped = 0;
  int err = log->truncate(log, txn_, &dropped, 0);
  if (err != 0) return store_.DbError("empty the change log", err);
  oldest_ = version_ + 1;
  return PutMeta(embedded::kMetaOldest, EncodeU64(oldest_));
}

absl::Status EmbeddedStore::Txn::TrimLog(uint64_t before) {
  // Entries are keyed big-endian by their last version, so those wholly
  // below `before` are the first ones: one cursor walks and deletes them,
  // without a search from the root per entry.
  const char* what = "trim change log";
  DB* log = store_.changelog_;
  Cursor cursor;
  int err = log->cursor(log, txn_, cursor.out(), 0);
  if (err != 0) return store_.DbError(what, err);
  Buffer key, value;
  u_int32_t flag = DB_FIRST;
  while ((err = cursor->get(cursor.get(), key.dbt(), value.dbt(),
                            flag | DB_RMW)) == 0) {
    flag = DB_NEXT;
    if (key.view().size() != 8) return store_.Corrupt("change log key");
    if (DecodeU64(key.view()) >= before) break;
    if ((err = cursor->del(cursor.get(), 0)) != 0) {
      return store_.DbError(what, err);
    }
  }
  if (err != 0 && err != DB_NOTFOUND) return store_.DbError(what, err);
  if ((err = cursor.Close()) != 0) return store_.DbError(what, err);
  return absl::OkStatus();
}

absl::Status EmbeddedStore::Txn::CheckIndexes() {
  Cursor cursor;
  int err = store_.records_->cursor(store_.records_, txn_, cursor.out(), 0);
  if (err != 0) return store_.DbError("check: open records cursor", err);
  int64_t present = 0, absent = 0;
  Buffer key, value, ignored;
  while ((err = cursor->get(cursor.get(), key.dbt(), value.dbt(), DB_NEXT)) ==
         0) {
    RelayRecord rec;
    if (!DecodeRecord(value.view(), &rec)) {
      return store_.Corrupt(absl::StrCat("record of ", key.view()));
    }
    ++(rec.present() ? present : absent);
    IndexEntry entry = IndexOf(key.view(), rec);
    DBT k = In(entry.key);
    err = entry.db->get(entry.db, txn_, &k, ignored.dbt(), 0);
    if (err == DB_NOTFOUND) {
      return store_.Corrupt(absl::StrCat("record of ", key.view(), " ",
                                         Describe(rec), " has no ",
                                         IndexName(entry.db), " entry"));
    }
    if (err != 0) return store_.DbError("check: read index", err);
  }
  if (err != DB_NOTFOUND) return store_.DbError("check: read records", err);
  if ((err = cursor.Close()) != 0) return store_.DbError("check: close", err);
  // Every record has its entry, and entries are distinct: equal counts
  // leave no room for stray ones.
  for (auto [index, want] : {std::make_pair(store_.by_login_, present),
                             std::make_pair(store_.by_delete_, absent)}) {
    absl::StatusOr<int64_t> have = CountIndex(index);
    if (!have.ok()) return have.status();
    if (*have != want) {
      return store_.Corrupt(absl::StrCat(IndexName(index), " has ", *have,
                                         " entries for ", want, " records"));
    }
  }
  absl::StatusOr<uint64_t> count = GetMetaU64(embedded::kMetaCount);
  if (!count.ok()) return count.status();
  if (static_cast<int64_t>(*count) != present) {
    return store_.Corrupt(absl::StrCat("meta count is ", *count, " for ",
                                       present, " present records"));
  }
  return absl::OkStatus();
}

EmbeddedStore::Txn::IndexEntry EmbeddedStore::Txn::IndexOf(
    absl::string_view address, const RelayRecord& r) const {
  if (r.present()) {
    return {store_.by_login_, EncodeIndexKey(r.login_time, address)};
  }
  return {store_.by_delete_, EncodeIndexKey(r.delete_time, address)};
}

const char* EmbeddedStore::Txn::IndexName(DB* db) const {
  return db == store_.by_login_ ? "by_login" : "by_delete";
}

absl::StatusOr<bool> EmbeddedStore::Txn::Load(absl::string_view address,
                                              RelayRecord* rec) {
  DB* db = store_.records_;
  DBT k = In(address);
  Buffer value;
  int err = db->get(db, txn_, &k, value.dbt(), DB_RMW);
  if (err == DB_NOTFOUND) return false;
  if (err != 0) return store_.DbError(absl::StrCat("read ", address), err);
  if (!DecodeRecord(value.view(), rec)) {
    return store_.Corrupt(absl::StrCat("record of ", address));
  }
  return true;
}

absl::Status EmbeddedStore::Txn::Write(absl::string_view address,
                                       const RelayRecord* before,
                                       const RelayRecord& after, bool erase) {
  DB* records = store_.records_;
  DBT k = In(address);
  std::string encoded = EncodeRecord(after);
  DBT v = In(encoded);
  int err = erase ? records->del(records, txn_, &k, 0)
                  : records->put(records, txn_, &k, &v, 0);
  if (err != 0) return store_.DbError(absl::StrCat("write ", address), err);

  const IndexEntry old_entry =
      before != nullptr ? IndexOf(address, *before) : IndexEntry{};
  const IndexEntry new_entry = erase ? IndexEntry{} : IndexOf(address, after);
  if (old_entry == new_entry) return absl::OkStatus();
  if (old_entry.db != nullptr) {
    DBT ik = In(old_entry.key);
    err = old_entry.db->del(old_entry.db, txn_, &ik, 0);
    if (err == DB_NOTFOUND) {
      return store_.Corrupt(absl::StrCat("record of ", address, " ",
                                         Describe(*before), " has no ",
                                         IndexName(old_entry.db), " entry"));
    }
    if (err != 0) {
      return store_.DbError(absl::StrCat("unindex ", address), err);
    }
  }
  if (new_entry.db != nullptr) {
    DBT ik = In(new_entry.key);
    DBT empty = In("");
    err = new_entry.db->put(new_entry.db, txn_, &ik, &empty, 0);
    if (err != 0) return store_.DbError(absl::StrCat("index ", address), err);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EmbeddedStore::Txn::CountLaterThan(int64_t ticks) {
  const char* what = "count later entries: walk by_login";
  Cursor cursor;
  int err = store_.by_login_->cursor(store_.by_login_, txn_, cursor.out(), 0);
  if (err != 0) return store_.DbError(what, err);
  Buffer key, value;
  int64_t count = 0;
  u_int32_t flag = DB_LAST;
  while ((err = cursor->get(cursor.get(), key.dbt(), value.dbt(), flag)) == 0) {
    flag = DB_PREV;
    int64_t time;
    absl::string_view address;
    if (!DecodeIndexKey(key.view(), &time, &address)) {
      return store_.Corrupt("by_login key");
    }
    if (time <= ticks) break;
    ++count;
  }
  if (err != 0 && err != DB_NOTFOUND) return store_.DbError(what, err);
  if ((err = cursor.Close()) != 0) return store_.DbError(what, err);
  return count;
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>>
EmbeddedStore::Txn::Due(DB* index, int64_t limit) {
  std::vector<std::pair<int64_t, std::string>> out;
  const std::string what = absl::StrCat("expire: walk ", IndexName(index));
  Cursor cursor;
  int err = index->cursor(index, txn_, cursor.out(), 0);
  if (err != 0) return store_.DbError(what, err);
  Buffer key, value;
  u_int32_t flag = DB_FIRST;
  while (out.size() < kDueBatch &&
         (err = cursor->get(cursor.get(), key.dbt(), value.dbt(), flag)) == 0) {
    flag = DB_NEXT;
    int64_t time;
    absl::string_view address;
    if (!DecodeIndexKey(key.view(), &time, &address)) {
      return store_.Corrupt(absl::StrCat(IndexName(index), " key"));
    }
    if (time > limit) break;
    out.emplace_back(time, std::string(address));
  }
  if (err != 0 && err != DB_NOTFOUND) return store_.DbError(what, err);
  if ((err = cursor.Close()) != 0) return store_.DbError(what, err);
  return out;
}

absl::StatusOr<RelayRecord> EmbeddedStore::Txn::LoadIndexed(
    DB* index, int64_t time, absl::string_view address) {
  RelayRecord rec;
  absl::StatusOr<bool> found = Load(address, &rec);
  if (!found.ok()) return found.status();
  // A disagreeing entry would never leave the due prefix: the walk would
  // not end.
  if (!*found || !(IndexOf(address, rec) ==
                   IndexEntry{index, EncodeIndexKey(time, address)})) {
    return store_.Corrupt(absl::StrCat(
        IndexName(index), " entry (", time, ", ", address, ") but record ",
        *found ? Describe(rec) : std::string("missing")));
  }
  return rec;
}

void EmbeddedStore::Txn::Account(absl::string_view address, bool was_present,
                                 const RelayRecord& now, bool visible) {
  count_ += (now.present() ? 1 : 0) - (was_present ? 1 : 0);
  if (!visible) return;
  StateChange change;
  change.version = ++version_;
  change.address = std::string(address);
  change.removed = !now.present();
  change.ticks = change.removed ? 0 : now.login_time;
  result_.changes.push_back(std::move(change));
}

absl::StatusOr<int64_t> EmbeddedStore::Txn::CountIndex(DB* index) {
  const std::string what = absl::StrCat("check: read ", IndexName(index));
  Cursor cursor;
  int err = index->cursor(index, txn_, cursor.out(), 0);
  if (err != 0) return store_.DbError(what, err);
  int64_t n = 0;
  Buffer key, value;
  while ((err = cursor->get(cursor.get(), key.dbt(), value.dbt(), DB_NEXT)) ==
         0) {
    int64_t time;
    absl::string_view address;
    if (!DecodeIndexKey(key.view(), &time, &address)) {
      return store_.Corrupt(absl::StrCat(IndexName(index), " key"));
    }
    ++n;
  }
  if (err != DB_NOTFOUND) return store_.DbError(what, err);
  if ((err = cursor.Close()) != 0) return store_.DbError(what, err);
  return n;
}

}  // namespace relaysync
