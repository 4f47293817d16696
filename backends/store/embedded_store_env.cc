// EmbeddedStore's environment: the directory lock, opening with recovery,
// the databases and the format check, checkpoints, closing, and Berkeley DB
// errors as Status. The operations are in embedded_store.cc.
#include <db.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "backends/bdb.h"
#include "backends/store/embedded_store.h"
#include "backends/store/embedded_store_codec.h"
#include "backends/store/embedded_store_txn.h"
#include "common/logging.h"
#include "common/random_id.h"
#include "common/thread_name.h"

namespace relaysync {

using bdb::In;
using embedded::Buffer;
using embedded::Cursor;
using embedded::EncodeU64;
using embedded::kFormat;
using embedded::kFormatChangePerEntry;
using embedded::kFormatWithoutAttribution;
using embedded::kMetaCount;
using embedded::kMetaEpoch;
using embedded::kMetaFormat;
using embedded::kMetaOldest;
using embedded::kMetaVersion;

namespace {

// A checkpoint bounds recovery time and lets DB_LOG_AUTO_REMOVE delete log
// files. Taken after this many commits, or sooner when this much log was
// written since the last one (a few very large transactions); looked at
// once every kCheckpointPeriod.
constexpr int kCheckpointEveryCommits = 1000;
constexpr absl::Duration kCheckpointPeriod = absl::Seconds(1);
constexpr u_int32_t kCheckpointLogKbytes = 16 * 1024;
// Large enough for ~1M records' hot pages; the default 256 KiB thrashes.
constexpr u_int32_t kCacheBytes = 64 << 20;
// Shared region memory, mostly the lock table: a transaction locks every
// page it touches until commit. The default (~1 MiB, ~4,300 locks) is too
// small for a 20,000-login merge or a large Expire; an Expire of 1M entries
// holds ~34,000 locks.
constexpr u_int32_t kRegionBytes = 16 << 20;

}  // namespace

EmbeddedStore::EmbeddedStore(const EmbeddedStoreOptions& options)
    : options_(options) {}

EmbeddedStore::~EmbeddedStore() { Close(); }

absl::StatusOr<std::unique_ptr<EmbeddedStore>> EmbeddedStore::Open(
    const EmbeddedStoreOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("embedded store: data_dir is empty");
  }
  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(options));
  absl::Status s = store->LockDir();
  if (s.ok()) s = store->OpenEnv();
  if (s.ok()) s = store->OpenDatabase("meta.db", true, &store->meta_);
  if (s.ok()) s = store->LoadOrInitMeta();
  if (!s.ok()) return s;
  absl::StatusOr<uint64_t> version = store->Version();
  if (!version.ok()) return version.status();
  {
    absl::MutexLock lock(&store->committed_mu_);
    store->committed_version_ = *version;
  }
  store->checkpointer_ = std::thread([raw = store.get()] {
    NameThisThread("checkpoint");
    raw->CheckpointLoop();
  });
  return store;
}

absl::Status EmbeddedStore::LockDir() {
  const std::string& dir = options_.data_dir;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat(
        "embedded store: ", dir, ": create directory: ", std::strerror(errno)));
  }
  const std::string path = absl::StrCat(dir, "/LOCK");
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat(
        "embedded store: ", dir, ": open ", path, ": ", std::strerror(errno)));
  }
  // Recovery (DB_RECOVER) is only safe with no other process in the
  // environment, so the lock is taken before the environment is opened
  // and held until it is closed.
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "embedded store: ", dir, ": already open by another coordinator (",
          path, " is locked)"));
    }
    return absl::UnavailableError(absl::StrCat(
        "embedded store: ", dir, ": flock ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status EmbeddedStore::OpenEnv() {
  DB_ENV* env = nullptr;
  int err = db_env_create(&env, 0);
  if (err != 0) return DbError("create environment", err);
  bdb::CaptureErrors(env);
  const char* what = "set cache size";
  err = env->set_cachesize(env, 0, kCacheBytes, 1);
  if (err == 0) {
    what = "set region memory";
    err = env->set_memory_max(env, 0, kRegionBytes);
  }
  if (err == 0) {
    what = "set deadlock detection";
    err = env->set_lk_detect(env, DB_LOCK_DEFAULT);
  }
  if (err == 0) {
    what = "set log auto-remove";
    err = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
  }
  if (err == 0) {
    what = "open environment (with recovery)";
    err = env->open(env, options_.data_dir.c_str(),
                    DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK |
                        DB_INIT_MPOOL | DB_RECOVER | DB_THREAD,
                    0600);
  }
  if (err != 0) {
    absl::Status s = DbError(what, err);
    env->close(env, 0);  // required after a failure; its result is moot
    return s;
  }
  env_ = env;
  return absl::OkStatus();
}

absl::Status EmbeddedStore::OpenDatabase(const char* file, bool create,
                                         DB** out) {
  DB* db = nullptr;
  int err = db_create(&db, env_, 0);
  if (err != 0) return DbError(absl::StrCat("create handle ", file), err);
  err = db->open(db, nullptr, file, nullptr, DB_BTREE,
                 (create ? DB_CREATE : 0) | DB_AUTO_COMMIT | DB_THREAD, 0600);
  if (err != 0) {
    absl::Status s = DbError(absl::StrCat("open ", file), err);
    if (err == ENOENT) s = Corrupt(absl::StrCat(file, " is missing"));
    db->close(db, 0);  // required after a failed open; result moot
    return s;
  }
  *out = db;
  return absl::OkStatus();
}

absl::Status EmbeddedStore::LoadOrInitMeta() {
  bool fresh = false;
  std::string format;
  absl::Status s = RunTxn("open", false, [&](Txn& txn) -> absl::Status {
    Buffer value;
    DBT k = In(kMetaFormat);
    int err = meta_->get(meta_, txn.raw(), &k, value.dbt(), 0);
    fresh = err == DB_NOTFOUND;
    if (err != 0 && !fresh) return DbError("read meta format", err);
    format = std::string(value.view());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  // Checked before the other files are opened, so that a store of another
  // format gets no new files. Format 1 had no indexes.
  const bool upgrade = !fresh && (format == kFormatWithoutAttribution ||
                                  format == kFormatChangePerEntry);
  if (!fresh && !upgrade && format != kFormat) {
    return absl::FailedPreconditionError(absl::StrCat(
        "embedded store: ", options_.data_dir, ": on-disk format \"", format,
        "\" is not supported (this version reads formats ",
        kFormatWithoutAttribution, " to ", kFormat,
        " only); start from an empty data dir"));
  }
  // In an existing store a missing file is DataLoss, not a new empty one.
  s = OpenDatabase("records.db", fresh, &records_);
  if (s.ok()) s = OpenDatabase("by_login.db", fresh, &by_login_);
  if (s.ok()) s = OpenDatabase("by_delete.db", fresh, &by_delete_);
  if (s.ok()) s = OpenDatabase("changelog.db", fresh, &changelog_);
  if (!s.ok()) return s;
  if (!fresh) {
    s = RunTxn("open", upgrade, [this, upgrade](Txn& txn) -> absl::Status {
      absl::StatusOr<std::string> epoch = txn.GetMeta(kMetaEpoch);
      if (!epoch.ok()) return epoch.status();
      epoch_ = *epoch;
      absl::Status st = txn.Begin();  // validates the counters
      // The old log's entries would not decode: agents behind the store's
      // version take a snapshot, once.
      if (st.ok() && upgrade) st = txn.DropLog();
      if (st.ok() && upgrade) st = txn.PutMeta(kMetaFormat, kFormat);
      return st;
    });
    if (s.ok() && upgrade) {
      LogInfo("embedded store: ", options_.data_dir, ": on-disk format ",
              format, " upgraded to ", kFormat,
              "; its change log was emptied, so agents behind its version "
              "take one snapshot");
    }
    return s;
  }
  return RunTxn("create", true, [this](Txn& txn) -> absl::Status {
    // Records without meta would mean lost meta, not a new store; refuse
    // rather than restart versions under a new epoch.
    Cursor cursor;
    int err = records_->cursor(records_, txn.raw(), cursor.out(), 0);
    if (err != 0) return DbError("open records cursor", err);
    Buffer key, rec;
    err = cursor->get(cursor.get(), key.dbt(), rec.dbt(), DB_FIRST);
    if (err == 0) return Corrupt("records exist but meta is missing");
    if (err != DB_NOTFOUND) return DbError("read records", err);
    if ((err = cursor.Close()) != 0) return DbError("close cursor", err);
    absl::StatusOr<std::string> epoch = RandomHexId();
    if (!epoch.ok()) {
      return absl::UnavailableError(
          absl::StrCat("embedded store: ", options_.data_dir, ": ",
                       epoch.status().message()));
    }
    absl::Status s = txn.PutMeta(kMetaFormat, kFormat);
    if (s.ok()) s = txn.PutMeta(kMetaEpoch, *epoch);
    if (s.ok()) s = txn.PutMeta(kMetaVersion, EncodeU64(0));
    if (s.ok()) s = txn.PutMeta(kMetaOldest, EncodeU64(1));
    if (s.ok()) s = txn.PutMeta(kMetaCount, EncodeU64(0));
    if (s.ok()) epoch_ = *epoch;
    return s;
  });
}

void EmbeddedStore::NoteCommit() {
  absl::MutexLock lock(&checkpoint_mu_);
  ++commits_since_checkpoint_;
}

void EmbeddedStore::CheckpointLoop() {
  auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(checkpoint_mu_) {
    return closing_;
  };
  int commits = 0;  // since the last checkpoint
  for (;;) {
    {
      // A look once a second, not a wake-up per commit: at 1,000 small
      // commits a second those cost more than the checks.
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_mu_.AwaitWithTimeout(absl::Condition(&closing),
                                      kCheckpointPeriod);
      if (closing_) return;  // Close takes the last one
      commits += commits_since_checkpoint_;
      commits_since_checkpoint_ = 0;
    }
    if (commits == 0) continue;
    // kbyte = 0 and min = 0 force a checkpoint; otherwise Berkeley DB takes
    // one only if that much log was written since the last. Transactions
    // go on meanwhile. A failure loses nothing (the log holds every
    // commit); the next look tries again.
    const bool due = commits >= kCheckpointEveryCommits;
    int err = env_->txn_checkpoint(env_, due ? 0 : kCheckpointLogKbytes, 0, 0);
    if (err != 0) {
      LogWarning(DbError("checkpoint", err).message());
    } else if (due) {
      commits = 0;
    }
  }
}

void EmbeddedStore::Close() {
  // Failures here lose nothing: every commit is already in the log, and the
  // next Open recovers from it. They are logged, as there is no caller.
  auto check = [this](const char* what, int err) {
    if (err != 0) LogWarning(DbError(what, err).message());
  };
  if (checkpointer_.joinable()) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      closing_ = true;
    }
    checkpointer_.join();
  }
  if (env_ != nullptr) check("checkpoint", env_->txn_checkpoint(env_, 0, 0, 0));
  for (DB** db : {&records_, &by_login_, &by_delete_, &changelog_, &meta_}) {
    if (*db != nullptr) check("close database", (*db)->close(*db, 0));
    *db = nullptr;
  }
  if (env_ != nullptr) check("close environment", env_->close(env_, 0));
  env_ = nullptr;
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
}

absl::Status EmbeddedStore::DbError(absl::string_view what, int err) const {
  std::string msg = absl::StrCat("embedded store: ", options_.data_dir, ": ",
                                 what, ": ", bdb::ErrorDetail(err));
  switch (err) {
    case DB_LOCK_DEADLOCK:
    case DB_LOCK_NOTGRANTED:
      return absl::AbortedError(msg);
    case ENOSPC:
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status EmbeddedStore::Corrupt(absl::string_view what) const {
  return absl::DataLossError(
      absl::StrCat("embedded store: ", options_.data_dir, ": corrupt: ", what));
}

}  // namespace relaysync
