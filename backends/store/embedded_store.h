// The coordinator's durable state store on local disk: a Berkeley DB 5.3
// transactional environment in one directory. Every mutation is one
// transaction whose commit is synced before the call returns, so committed
// state survives SIGKILL and power loss. Layout and recovery: docs/state.md.
#ifndef RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_H_
#define RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/store/relay_record.h"
#include "backends/store/store.h"

// Berkeley DB handles, kept out of this header.
struct __db;
struct __db_env;

namespace relaysync {

struct EmbeddedStoreOptions {
  // Holds the databases, the transaction log and the lock file. Created
  // (mode 0700) if missing; its parent must exist.
  std::string data_dir;
  // How many changes ChangesSince can reach back; older ones are trimmed.
  size_t change_log_limit = 100000;
};

// Thread-safe. One mutex serializes every call, reads included: commits are
// one at a time anyway, and most reads are short. The long holder is
// ReadSnapshot, a full scan (~50 ms at 200,000 entries). Only one
// EmbeddedStore, in any process, can have a directory open at a time.
class EmbeddedStore : public Store {
 public:
  // Opens or creates the store, running Berkeley DB recovery first so that
  // a store left by a killed process comes back with exactly its committed
  // transactions. FailedPreconditionError if another EmbeddedStore holds
  // the directory, or if it holds a store of another on-disk format.
  static absl::StatusOr<std::unique_ptr<EmbeddedStore>> Open(
      const EmbeddedStoreOptions& options);

  // Checkpoints and closes. Nothing committed depends on this running.
  ~EmbeddedStore() override;
  EmbeddedStore(const EmbeddedStore&) = delete;
  EmbeddedStore& operator=(const EmbeddedStore&) = delete;

  std::string Name() const override;
  std::string Epoch() const override { return epoch_; }

  absl::StatusOr<MutationResult> MergeLogins(const std::vector<Login>& logins,
                                             int64_t not_after) override;
  // InvalidArgumentError for ticks == INT64_MIN (no earlier delete time
  // could be represented).
  absl::StatusOr<MutationResult> Put(const std::string& address, int64_t ticks,
                                     const Attribution& who) override;
  // An address that is not present is reported in `missing`, and its delete
  // time is still recorded, so an older login in flight cannot bring it in.
  absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses, int64_t now) override;
  // One transaction that walks only the due ends of the two time indexes:
  // O(removed + log n), whatever the store's size.
  absl::StatusOr<MutationResult> Expire(int64_t cutoff,
                                        int64_t forget_before) override;

  absl::StatusOr<Snapshot> ReadSnapshot() override;
  absl::StatusOr<std::vector<AttributedEntry>> ReadAttributed() override;
  // The latest changes come from memory, without waiting behind a commit
  // in progress: the coordinator reads every commit right after it.
  absl::StatusOr<std::vector<StateChange>> ChangesSince(uint64_t since,
                                                        size_t limit) override;
  absl::StatusOr<uint64_t> Version() override;
  // O(1): a count kept in the meta database.
  absl::StatusOr<int64_t> EntryCount() override;
  absl::StatusOr<int64_t> CountLaterThan(int64_t ticks) override;
  // Waits for a commit of this store object (a condition signalled after
  // each one), not behind the mutex of the calls: the epoch never changes.
  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override;

  // Checks that by_login.db and by_delete.db hold exactly one entry per
  // record (present: login_time; tombstone: delete_time) and nothing else,
  // and that the present count is right. A full scan under the mutex: for
  // tests and diagnosis. DataLossError naming the first disagreement.
  absl::Status CheckIndexes();

 private:
  class Txn;
  using TxnBody = std::function<absl::Status(Txn&)>;

  explicit EmbeddedStore(const EmbeddedStoreOptions& options);

  absl::Status LockDir();
  absl::Status OpenEnv();
  // Opens `file` into `*db`; a missing file is created when `create`, else
  // DataLoss.
  absl::Status OpenDatabase(const char* file, bool create, __db** db);
  // Checks the format and opens the other databases; then reads the epoch,
  // or creates the meta records of a new, empty store.
  absl::Status LoadOrInitMeta();
  // Runs `body` in a transaction and commits it synchronously, retrying the
  // whole transaction on deadlock. `what` names the operation in errors.
  // `mutating` transactions may trigger a checkpoint after commit.
  // `committed`, if given, runs after the commit with mu_ still held, so
  // in commit order.
  absl::Status RunTxn(absl::string_view what, bool mutating,
                      const TxnBody& body,
                      const std::function<void()>& committed = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // RunTxn for a mutation: `body` applies rules through the Txn, which
  // gives each visible change the next version; the same transaction then
  // appends them to the change log, trims it and updates the counters.
  absl::StatusOr<MutationResult> Mutate(absl::string_view what,
                                        const TxnBody& body);
  // Calls `fn` with each present record, walking records.db in `txn`.
  // `what` names the read in errors.
  absl::Status ForEachPresent(
      Txn& txn, absl::string_view what,
      const std::function<void(absl::string_view, RelayRecord&)>& fn);
  // One counter from the meta database, in its own transaction.
  absl::StatusOr<uint64_t> ReadMetaU64(const char* key);
  // Keeps a commit's changes for ChangesSince and wakes WaitForChange.
  // Called in commit order.
  void Committed(const std::vector<StateChange>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ChangesSince from memory; false when memory does not reach back to
  // `since`.
  bool RecentChanges(uint64_t since, size_t limit,
                     std::vector<StateChange>* out);
  // Counts a commit for the checkpoint thread.
  void NoteCommit();
  // The checkpoint thread: once a second, if anything was committed, it
  // lets Berkeley DB's txn_checkpoint write the dirty cache pages to the
  // database files if enough log has accumulated. Run after each commit
  // on the merge thread, that was 7% of its time at full ingest.
  void CheckpointLoop();
  void Close();

  // Statuses naming the data dir and the operation. DbError maps a
  // deadlock to Aborted, which RunTxn retries.
  absl::Status DbError(absl::string_view what, int err) const;
  absl::Status Corrupt(absl::string_view what) const;

  const EmbeddedStoreOptions options_;
  // Fixed once opened (Close runs in the destructor). The handles are
  // free-threaded (DB_THREAD); mu_ serializes the transactions using them.
  int lock_fd_ = -1;
  __db_env* env_ = nullptr;
  __db* records_ = nullptr;    // address -> record
  __db* by_login_ = nullptr;   // present records: (login_time, address)
  __db* by_delete_ = nullptr;  // tombstones: (delete_time, address)
  __db* changelog_ = nullptr;
  __db* meta_ = nullptr;
  std::string epoch_;

  absl::Mutex mu_;  // serializes every call after Open

  absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_AFTER(mu_);
  int commits_since_checkpoint_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::thread checkpointer_;  // started by Open, joined by Close

  // The version of the last commit and the latest changes (dense, ending
  // at that version), for WaitForChange and ChangesSince: neither waits
  // behind mu_, held across whole transactions.
  absl::Mutex committed_mu_ ABSL_ACQUIRED_AFTER(mu_);
  uint64_t committed_version_ ABSL_GUARDED_BY(committed_mu_) = 0;
  std::deque<StateChange> recent_ ABSL_GUARDED_BY(committed_mu_);
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_EMBEDDED_STORE_H_
