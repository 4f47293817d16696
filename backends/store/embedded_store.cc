// EmbeddedStore's operations: transactions and the Store calls. Opening,
// closing and errors are in embedded_store_env.cc, the per-record writes
// and index upkeep in embedded_store_txn.cc.
#include "backends/store/embedded_store.h"

#include <db.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/bdb.h"
#include "backends/store/embedded_store_codec.h"
#include "backends/store/embedded_store_txn.h"
#include "backends/store/relay_record.h"

namespace relaysync {

using bdb::In;
using embedded::Buffer;
using embedded::Cursor;
using embedded::DecodeChangeRun;
using embedded::DecodeRecord;
using embedded::DecodeU64;
using embedded::EncodeU64;
using embedded::kMetaCount;
using embedded::kMetaOldest;
using embedded::kMetaVersion;

namespace {

// Bounds the retries of a transaction chosen as a deadlock victim. With
// every call serialized by the store's mutex deadlocks are not expected;
// the loop is there so that one never surfaces as a spurious error.
constexpr int kMaxTxnAttempts = 5;
// Latest changes ChangesSince answers from memory (fewer if the change log
// keeps fewer).
constexpr size_t kRecentChanges = 10000;

// Addresses are canonicalized by the coordinator; only "" and what the
// change log cannot hold are refused.
absl::Status CheckAddress(absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError("embedded store: empty address");
  }
  if (address.size() > embedded::kMaxChangeAddress) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedded store: address over ",
                     embedded::kMaxChangeAddress, " bytes"));
  }
  return absl::OkStatus();
}

// A record's value has room for kMaxAttributionField bytes per field.
absl::Status CheckAttribution(absl::string_view address,
                              const Attribution& who) {
  if (who.fits()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("embedded store: ", address, ": attribution over ",
                   kMaxAttributionField, " bytes"));
}

}  // namespace

std::string EmbeddedStore::Name() const {
  return absl::StrCat("embedded:", options_.data_dir);
}

absl::Status EmbeddedStore::RunTxn(absl::string_view what, bool mutating,
                                   const TxnBody& body,
                                   const std::function<void()>& committed) {
  absl::MutexLock lock(&mu_);
  for (int attempt = 1;; ++attempt) {
    DB_TXN* raw = nullptr;
    int err = env_->txn_begin(env_, nullptr, &raw, 0);
    if (err != 0) {
      return DbError(absl::StrCat(what, ": begin transaction"), err);
    }
    Txn txn(*this, raw);
    absl::Status s = body(txn);
    if (s.ok()) {
      // DB_TXN_SYNC: the log is on disk before this returns. On failure
      // Berkeley DB has aborted the transaction.
      err = raw->commit(raw, DB_TXN_SYNC);
      if (err == 0) {
        if (committed) committed();
        if (mutating) NoteCommit();
        return absl::OkStatus();
      }
      s = DbError(absl::StrCat(what, ": commit"), err);
    } else if ((err = raw->abort(raw)) != 0) {
      return DbError(absl::StrCat(what, ": abort after \"", s.message(), "\""),
                     err);
    }
    // Only a deadlock victim is retried; DbError maps it to Aborted.
    if (!absl::IsAborted(s)) return s;
    if (attempt == kMaxTxnAttempts) {
      return absl::AbortedError(
          absl::StrCat(s.message(), " (gave up after ", attempt, " attempts)"));
    }
  }
}

absl::StatusOr<MutationResult> EmbeddedStore::Mutate(absl::string_view what,
                                                     const TxnBody& body) {
  MutationResult result;
  absl::Status s = RunTxn(
      what, /*mutating=*/true,
      [&](Txn& txn) {
        absl::Status s = txn.Begin();
        if (s.ok()) s = body(txn);
        if (s.ok()) s = txn.Finish(options_.change_log_limit);
        if (s.ok()) result = std::move(txn.result());
        return s;
      },
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Committed(result.changes); });
  if (!s.ok()) return s;
  return result;
}

void EmbeddedStore::Committed(const std::vector<StateChange>& changes) {
  if (changes.empty()) return;
  const size_t keep = std::min(kRecentChanges, options_.change_log_limit);
  absl::MutexLock lock(&committed_mu_);
  if (changes.front().version != committed_version_ + 1) recent_.clear();
  const size_t skip = changes.size() > keep ? changes.size() - keep : 0;
  recent_.insert(recent_.end(), changes.begin() + skip, changes.end());
  while (recent_.size() > keep) recent_.pop_front();
  committed_version_ = changes.back().version;
}

bool EmbeddedStore::RecentChanges(uint64_t since, size_t limit,
                                  std::vector<StateChange>* out) {
  absl::MutexLock lock(&committed_mu_);
  if (since > committed_version_) return false;  // OutOfRange, from disk
  if (since == committed_version_) return true;
  if (recent_.empty() || since + 1 < recent_.front().version) return false;
  for (size_t i = since + 1 - recent_.front().version;
       i < recent_.size() && out->size() < limit; ++i) {
    out->push_back(recent_[i]);
  }
  return true;
}

absl::StatusOr<uint64_t> EmbeddedStore::WaitForChange(uint64_t since,
                                                      absl::Duration timeout) {
  absl::MutexLock lock(&committed_mu_);
  auto moved = [this, since]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(committed_mu_) {
    return committed_version_ > since;
  };
  committed_mu_.AwaitWithTimeout(absl::Condition(&moved), timeout);
  return committed_version_;
}

absl::StatusOr<MutationResult> EmbeddedStore::MergeLogins(
    const std::vector<Login>& logins, int64_t not_after) {
  for (const Login& login : logins) {
    absl::Status s = CheckAddress(login.address);
    if (s.ok()) s = CheckAttribution(login.address, login.who);
    if (!s.ok()) return s;
  }
  return Mutate("merge logins", [&](Txn& txn) -> absl::Status {
    for (const Login& login : logins) {
      if (login.login_time <= not_after) continue;
      absl::StatusOr<bool> changed =
          txn.Apply(login.address, [&login](RelayRecord& r) {
            return r.MergeLogin(login.login_time, login.who);
          });
      if (!changed.ok()) return changed.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<MutationResult> EmbeddedStore::Put(const std::string& address,
                                                  int64_t ticks,
                                                  const Attribution& who) {
  absl::Status s = CheckAddress(address);
  if (s.ok()) s = CheckAttribution(address, who);
  if (!s.ok()) return s;
  if (ticks == INT64_MIN) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedded store: put ", address, ": ticks out of range"));
  }
  return Mutate("put", [&](Txn& txn) -> absl::Status {
    return txn
        .Apply(address,
               [ticks, &who](RelayRecord& r) { return r.Put(ticks, who); })
        .status();
  });
}

absl::StatusOr<MutationResult> EmbeddedStore::Delete(
    const std::vector<std::string>& addresses, int64_t now) {
  for (const std::string& address : addresses) {
    absl::Status s = CheckAddress(address);
    if (!s.ok()) return s;
  }
  return Mutate("delete", [&](Txn& txn) -> absl::Status {
    for (const std::string& address : addresses) {
      absl::StatusOr<bool> was_present =
          txn.Apply(address, [now](RelayRecord& r) { return r.Delete(now); });
      if (!was_present.ok()) return was_present.status();
      if (!*was_present) txn.result().missing.push_back(address);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<MutationResult> EmbeddedStore::Expire(int64_t cutoff,
                                                     int64_t forget_before) {
  return Mutate("expire", [&](Txn& txn) -> absl::Status {
    absl::Status s = txn.ExpireDue(cutoff, forget_before);
    if (s.ok()) s = txn.ForgetDue(forget_before);
    return s;
  });
}

absl::Status EmbeddedStore::ForEachPresent(
    Txn& txn, absl::string_view what,
    const std::function<void(absl::string_view, RelayRecord&)>& fn) {
  Cursor cursor;
  int err = records_->cursor(records_, txn.raw(), cursor.out(), 0);
  if (err != 0) return DbError(absl::StrCat(what, ": open cursor"), err);
  Buffer key, value;
  while ((err = cursor->get(cursor.get(), key.dbt(), value.dbt(), DB_NEXT)) ==
         0) {
    RelayRecord rec;
    if (!DecodeRecord(value.view(), &rec)) {
      return Corrupt(absl::StrCat("record of ", key.view()));
    }
    if (rec.present()) fn(key.view(), rec);
  }
  if (err != DB_NOTFOUND) {
    return DbError(absl::StrCat(what, ": read records"), err);
  }
  if ((err = cursor.Close()) != 0) {
    return DbError(absl::StrCat(what, ": close"), err);
  }
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> EmbeddedStore::ReadSnapshot() {
  const char* what = "read snapshot";
  Snapshot snapshot;
  absl::Status s = RunTxn(what, false, [&](Txn& txn) -> absl::Status {
    snapshot.entries.clear();
    absl::StatusOr<uint64_t> version = txn.GetMetaU64(kMetaVersion);
    if (!version.ok()) return version.status();
    snapshot.version = *version;
    return ForEachPresent(
        txn, what, [&](absl::string_view address, RelayRecord& rec) {
          snapshot.entries.push_back({std::string(address), rec.login_time});
        });
  });
  if (!s.ok()) return s;
  snapshot.epoch = epoch_;
  return snapshot;
}

absl::StatusOr<std::vector<AttributedEntry>> EmbeddedStore::ReadAttributed() {
  const char* what = "read attributed entries";
  std::vector<AttributedEntry> entries;
  absl::Status s = RunTxn(what, false, [&](Txn& txn) -> absl::Status {
    entries.clear();
    return ForEachPresent(
        txn, what, [&](absl::string_view address, RelayRecord& rec) {
          entries.push_back(
              {std::string(address), rec.login_time, std::move(rec.who)});
        });
  });
  if (!s.ok()) return s;
  return entries;
}

absl::StatusOr<std::vector<StateChange>> EmbeddedStore::ChangesSince(
    uint64_t since, size_t limit) {
  std::vector<StateChange> out;
  if (RecentChanges(since, limit, &out)) return out;
  const std::string what = absl::StrCat("changes since ", since);
  absl::Status s = RunTxn(what, false, [&](Txn& txn) -> absl::Status {
    out.clear();
    absl::StatusOr<uint64_t> version = txn.GetMetaU64(kMetaVersion);
    absl::StatusOr<uint64_t> oldest = txn.GetMetaU64(kMetaOldest);
    if (!version.ok()) return version.status();
    if (!oldest.ok()) return oldest.status();
    if (since + 1 < *oldest || since > *version) {
      return absl::OutOfRangeError(
          absl::StrCat("embedded store: ", options_.data_dir, ": ", what,
                       ": not in the change log (it holds versions ", *oldest,
                       " to ", *version, "); a snapshot is needed"));
    }
    const uint64_t want = std::min<uint64_t>(limit, *version - since);
    if (want == 0) return absl::OkStatus();
    Cursor cursor;
    int err = changelog_->cursor(changelog_, txn.raw(), cursor.out(), 0);
    if (err != 0) return DbError(absl::StrCat(what, ": open cursor"), err);
    // Entries are keyed by their run's last version: DB_SET_RANGE finds
    // the run holding since + 1. It writes the found key back, so the key
    // needs memory of our own; every key in the log is 8 bytes.
    std::string key_bytes = EncodeU64(since + 1);
    DBT key = In(key_bytes);
    key.ulen = key.size;
    key.flags = DB_DBT_USERMEM;
    Buffer value;
    std::vector<StateChange> run;
    u_int32_t flag = DB_SET_RANGE;
    for (uint64_t next = since + 1; out.size() < want; flag = DB_NEXT) {
      err = cursor->get(cursor.get(), &key, value.dbt(), flag);
      if (err == DB_NOTFOUND) {
        return Corrupt(absl::StrCat("change ", next, " missing"));
      }
      if (err != 0) return DbError(absl::StrCat(what, ": read"), err);
      run.clear();
      if (key.size != 8 || !DecodeChangeRun(value.view(), &run)) {
        return Corrupt(absl::StrCat("change log entry holding ", next));
      }
      const uint64_t last = DecodeU64(key_bytes);
      // The run is versions first..last; it must hold `next`, and the runs
      // after it must follow on without a gap.
      const uint64_t first = last - (run.size() - 1);
      if (run.size() > last || first > next || last < next ||
          (flag == DB_NEXT && first != next)) {
        return Corrupt(absl::StrCat("change ", next, " missing"));
      }
      for (uint64_t v = next; v <= last && out.size() < want; ++v) {
        StateChange& change = run[v - first];
        change.version = v;
        out.push_back(std::move(change));
      }
      next = last + 1;
    }
    if ((err = cursor.Close()) != 0) {
      return DbError(absl::StrCat(what, ": close"), err);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<uint64_t> EmbeddedStore::ReadMetaU64(const char* key) {
  uint64_t value = 0;
  absl::Status s = RunTxn(absl::StrCat("read ", key), /*mutating=*/false,
                          [&](Txn& txn) -> absl::Status {
                            absl::StatusOr<uint64_t> v = txn.GetMetaU64(key);
                            if (v.ok()) value = *v;
                            return v.status();
                          });
  if (!s.ok()) return s;
  return value;
}

absl::StatusOr<uint64_t> EmbeddedStore::Version() {
  return ReadMetaU64(kMetaVersion);
}

absl::StatusOr<int64_t> EmbeddedStore::EntryCount() {
  absl::StatusOr<uint64_t> count = ReadMetaU64(kMetaCount);
  if (!count.ok()) return count.status();
  return static_cast<int64_t>(*count);
}

absl::StatusOr<int64_t> EmbeddedStore::CountLaterThan(int64_t ticks) {
  int64_t count = 0;
  absl::Status s = RunTxn(
      "count later entries", /*mutating=*/false, [&](Txn& txn) -> absl::Status {
        absl::StatusOr<int64_t> n = txn.CountLaterThan(ticks);
        if (n.ok()) count = *n;
        return n.status();
      });
  if (!s.ok()) return s;
  return count;
}

absl::Status EmbeddedStore::CheckIndexes() {
  return RunTxn("check indexes", /*mutating=*/false,
                [](Txn& txn) { return txn.CheckIndexes(); });
}

}  // namespace relaysync
