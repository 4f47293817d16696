// The coordinators' shared state store in Redis: several stateless
// coordinators use one Redis (or a Sentinel-managed master), and each
// mutation is one atomic Lua script, so all see one dense version
// sequence. Key layout, scripts and durability: docs/redis.md.
#ifndef RELAYSYNC_BACKENDS_STORE_REDIS_STORE_H_
#define RELAYSYNC_BACKENDS_STORE_REDIS_STORE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/store/redis_connection.h"
#include "backends/store/redis_replies.h"
#include "backends/store/redis_scripts.h"
#include "backends/store/store.h"

namespace relaysync {

struct RedisStoreOptions {
  // "HOST:PORT", or a unix socket path starting with '/'. Ignored when
  // `sentinels` is set.
  std::string address;
  // Sentinels ("HOST:PORT") to ask for the master named `master_name`,
  // again after every connection failure, so a failover is followed.
  std::vector<std::string> sentinels;
  std::string master_name;
  // AUTH: `password` alone for requirepass, with `user` for an ACL user.
  std::string user;
  std::string password;
  int db = 0;  // SELECT
  // Every key is "{prefix}:...": one Redis Cluster hash slot. Coordinators
  // sharing state use the same prefix. No '{' or '}'.
  std::string prefix = "relaysync";
  size_t change_log_limit = 100000;
  // Connect timeout, and the longest wait for any one reply.
  absl::Duration timeout = absl::Seconds(2);
  // Connections MergeLogins spreads concurrent calls over, so one batch's
  // round trip and parsing overlap another's script in Redis.
  int merge_connections = 2;
};

// Thread-safe. Commands go over one connection under a mutex (callers
// batch: the coordinator group-commits), except MergeLogins, which has
// `merge_connections` of its own so concurrent batches overlap (scripts
// are atomic and merging is order-independent); WaitForChange uses
// another, so a blocked follower never holds up writes. After a failure the
// next call reconnects; every call is retried once when a connection that was
// up fails (Redis restarted, failover), which is safe as each script is
// idempotent (a retried Delete may then list as missing an address it
// removed). Errors name the server: Unavailable when it cannot be reached
// or is failing over, PermissionDenied for AUTH/ACL refusals, Internal
// with Redis's message for anything else it rejects.
//
// Times (login times, Put ticks, Delete's now) must lie within
// +-(2^53 - 1) seconds, where Lua's doubles are exact: InvalidArgument
// otherwise. Cut-offs may be anything (INT64_MIN for none).
class RedisStore : public Store {
 public:
  // Connects, loads the scripts and reads (or creates) the epoch.
  // Unavailable if no server answers within `timeout`.
  static absl::StatusOr<std::unique_ptr<RedisStore>> Open(
      const RedisStoreOptions& options);

  // What MigrateLayout did.
  struct MigrationReport {
    bool migrated = false;  // false: no record hash of an older relaysync
    int64_t records = 0;    // its records checked
    int64_t fixed = 0;      // index entries it disagreed with, corrected
  };
  // The one-time move from the record hash ({p}:rec) of a relaysync before
  // 2026-12 to the layout of docs/redis.md, in steps of about `chunk`
  // records (1-2,000), one script each, so Redis is never held long. Run it
  // with every coordinator stopped: from its first step the old ones fail
  // (their scripts meet a fence at {p}:rec), and new ones refuse the
  // namespace (FailedPrecondition) until it has finished. The epoch,
  // version and change log stay. Idempotent: after an interruption, run it
  // again; on a namespace already migrated it does nothing.
  static absl::StatusOr<MigrationReport> MigrateLayout(
      const RedisStoreOptions& options, int chunk = 1000);

  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // "redis:HOST:PORT" (or "redis:sentinel/NAME"), with "/DB" when not 0
  // and "{PREFIX}" when not the default.
  std::string Name() const override;
  // The epoch the last answer from Redis carried. It changes when Redis
  // lost the namespace (restarted empty, flushed: versions restart at 0),
  // and, with Sentinel, when the master changed (a failover may have lost
  // the newest changes, whose versions would be reused: versions go on,
  // but under the new epoch everyone takes a snapshot).
  std::string Epoch() const override;

  absl::StatusOr<MutationResult> MergeLogins(const std::vector<Login>& logins,
                                             int64_t not_after) override;
  absl::StatusOr<MutationResult> Put(const std::string& address, int64_t ticks,
                                     const Attribution& who) override;
  absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses, int64_t now) override;
  // O(removed + log n) inside Redis, via the two time indexes.
  absl::StatusOr<MutationResult> Expire(int64_t cutoff,
                                        int64_t forget_before) override;

  // One MULTI/EXEC: the version and every record, consistent.
  absl::StatusOr<Snapshot> ReadSnapshot() override;
  // The same, plus the whole attribution hash: about twice the work.
  absl::StatusOr<std::vector<AttributedEntry>> ReadAttributed() override;
  absl::StatusOr<std::vector<StateChange>> ChangesSince(uint64_t since,
                                                        size_t limit) override;
  absl::StatusOr<uint64_t> Version() override;
  absl::StatusOr<int64_t> EntryCount() override;
  absl::StatusOr<int64_t> CountLaterThan(int64_t ticks) override;

  // MergeLogins has `merge_connections` connections of its own.
  int concurrent_merges() const override {
    return std::max(1, options_.merge_connections);
  }
  // Blocks (XREAD BLOCK on its own connection) until a change after
  // `since` is logged, the epoch differs from Epoch() at the call (checked
  // at least every second), or `timeout` passes. While Redis is down it
  // keeps reconnecting until `timeout` and then returns Unavailable, so a
  // follower loop is paced by its timeout rather than spinning. Meant for
  // one follower thread: concurrent calls take turns.
  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override;

 private:
  using Info = redis::Info;

  explicit RedisStore(const RedisStoreOptions& options);
  static absl::Status CheckOptions(const RedisStoreOptions& options);
  // One kMigrate step on conn_: its reply, or the error it gave.
  absl::StatusOr<RedisReply> MigrateStep(const std::string& step,
                                         const std::string& cursor, int chunk);

  absl::Status LoadScripts();
  // Logs a warning if Redis may lose acknowledged writes, or if an ACL
  // hides both its durability (CONFIG) and its restarts (INFO).
  void WarnIfNotDurable();

  // The EVALSHA command for `script` up to its own arguments: keys, a fresh
  // epoch candidate, the log limit. Append the rest.
  absl::StatusOr<std::vector<std::string>> ScriptCommand(
      redis::Script script) const;
  // Connects `conn` if needed and puts its master into `*argv` (from
  // ScriptCommand): with Sentinel, a new master means a new epoch.
  absl::Status SetMaster(RedisConnection& conn,
                         std::vector<std::string>* argv) const;
  // Runs `*argv` from ScriptCommand on `conn` (as EVAL after NOSCRIPT).
  // The helpers below expect their connection's mutex held.
  absl::StatusOr<RedisReply> RunScript(RedisConnection& conn,
                                       redis::Script script,
                                       std::vector<std::string>* argv);
  // A mutation: runs `*argv` on `conn` (its mutex held), parses the
  // reply, notes the epoch.
  absl::StatusOr<MutationResult> Mutate(RedisConnection& conn, const char* what,
                                        redis::Script script,
                                        std::vector<std::string>* argv);
  absl::StatusOr<Info> ReadInfo(RedisConnection& conn, const char* what);
  // MULTI, the info script, `reads`, EXEC on conn_: fills `info` and
  // returns EXEC's reply (element i + 1 answers reads[i]), consistent.
  absl::StatusOr<RedisReply> Transaction(
      const char* what, const std::vector<std::vector<std::string>>& reads,
      Info* info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `fn` (which uses `conn`) under `mu`, once more if a connection
  // that was up failed with Unavailable. Without arguments: conn_, mu_.
  // `fn` is a lambda marked ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) with `mu`
  // spelled as the caller names it (mu_, m.mu), which the analysis cannot
  // match with the reference `mu` taken here: so it does not check this one.
  template <typename Fn>
  ABSL_NO_THREAD_SAFETY_ANALYSIS auto WithRetry(absl::Mutex& mu,
                                                RedisConnection* conn, Fn fn)
      -> decltype(fn());
  template <typename Fn>
  auto WithRetry(Fn fn) -> decltype(fn()) {
    return WithRetry(mu_, conn_.get(), std::move(fn));
  }
  static const absl::Status& StatusOf(const absl::Status& s) { return s; }
  template <typename T>
  static const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }

  // Records an epoch seen in a reply; logs when it changed.
  void NoteEpoch(const std::string& epoch);
  // "redis ADDRESS: what: message", keeping the code.
  static absl::Status Error(const RedisConnection& conn, const char* what,
                            const absl::Status& status);
  // An error reply: PermissionDenied for NOAUTH/WRONGPASS/NOPERM, else
  // Internal with Redis's message.
  static absl::Status ReplyError(const RedisConnection& conn, const char* what,
                                 const std::string& message);

  const RedisStoreOptions options_;
  const std::string name_;
  std::vector<std::string> keys_;          // redis::KeyIndex order
  std::string shas_[redis::kScriptCount];  // fixed after Open

  // Each connection is made in the constructor and used under its mutex,
  // which also orders the commands on it.
  absl::Mutex mu_;
  std::unique_ptr<RedisConnection> conn_ ABSL_PT_GUARDED_BY(mu_);
  absl::Mutex wait_mu_;
  std::unique_ptr<RedisConnection> wait_conn_ ABSL_PT_GUARDED_BY(wait_mu_);
  struct MergeConnection {
    absl::Mutex mu;
    std::unique_ptr<RedisConnection> conn ABSL_PT_GUARDED_BY(mu);
  };
  std::vector<std::unique_ptr<MergeConnection>>
      merge_conns_;  // fixed after construction
  std::atomic<unsigned> next_merge_{0};

  mutable absl::Mutex epoch_mu_;
  std::string epoch_ ABSL_GUARDED_BY(epoch_mu_);
};

template <typename Fn>
auto RedisStore::WithRetry(absl::Mutex& mu, RedisConnection* conn, Fn fn)
    -> decltype(fn()) {
  const absl::Time asked = absl::Now();
  absl::MutexLock lock(&mu);
  // Queued behind an attempt to connect that failed meanwhile: Redis is
  // unreachable now. Trying again would make every queued caller wait out
  // the timeout in turn (a partition once held hellos 3 s behind each
  // other); each waits for one attempt at most.
  if (absl::Status down = conn->ConnectFailedSince(asked); !down.ok()) {
    return Error(*conn, "waiting for the connection", down);
  }
  const bool was_connected = conn->connected();
  auto result = fn();
  if (absl::IsUnavailable(StatusOf(result)) && was_connected) {
    result = fn();
  }
  return result;
}

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_REDIS_STORE_H_
