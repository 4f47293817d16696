// The coordinator's state store: per-address relay records, a monotonically
// increasing version and a bounded change log. The coordinator talks to the
// state through this interface and nothing else touches a store directly.
// Rules (docs/state.md): a record is present when login_time > delete_time;
// the later login always wins; merging is idempotent and order-independent.
// Entries, changes and attributions are common/relay_state.h.
#ifndef RELAYSYNC_BACKENDS_STORE_STORE_H_
#define RELAYSYNC_BACKENDS_STORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/relay_state.h"

namespace relaysync {

// A login to merge. `address` is canonical text (Address::ToString()).
// A constructor, not an aggregate, so that {address, time} still reads
// without naming every field.
struct Login {
  Login() = default;
  Login(std::string address, int64_t login_time, Attribution who = {})
      : address(std::move(address)),
        login_time(login_time),
        who(std::move(who)) {}

  std::string address;
  int64_t login_time = 0;
  // Kept with the record while this login sets its timestamp.
  Attribution who;
};

struct Snapshot {
  uint64_t version = 0;
  std::string epoch;
  std::vector<StateEntry> entries;  // present records only
};

struct MutationResult {
  std::vector<StateChange> changes;  // in version order
  std::vector<std::string> missing;  // Delete: addresses not present
};

class Store {
 public:
  virtual ~Store() = default;

  // "embedded:/var/lib/relaysync", "redis:host:port", ... for Status.
  virtual std::string Name() const = 0;
  // Identifies this store's history. A store recreated empty gets a new
  // epoch, so agents know their applied version is meaningless. A shared
  // store may notice that at run time: the value can change between calls
  // (thread-safe; returns a copy).
  virtual std::string Epoch() const = 0;

  // Merges logins (later login_time wins). Logins at or before `not_after`
  // (the expiry cut-off; INT64_MIN for none) are dropped. A record keeps
  // the attribution of the login that set its login_time: a later login
  // replaces it, an equal or earlier one does not (the first of a tie
  // stays). InvalidArgument for an attribution field over
  // kMaxAttributionField bytes. Durable when OK.
  virtual absl::StatusOr<MutationResult> MergeLogins(
      const std::vector<Login>& logins, int64_t not_after) = 0;

  // Admin add: the entry's timestamp becomes exactly `ticks`, earlier or
  // later than what it was, and its attribution `who` (host kAdminHost).
  virtual absl::StatusOr<MutationResult> Put(const std::string& address,
                                             int64_t ticks,
                                             const Attribution& who) = 0;

  // Admin delete at time `now`: removes each present address; logins at or
  // before max(now, its timestamp) can no longer bring it back.
  // `missing` lists the addresses that were not present.
  virtual absl::StatusOr<MutationResult> Delete(
      const std::vector<std::string>& addresses, int64_t now) = 0;

  // Removes every present entry with timestamp <= `cutoff` (a re-sent login
  // at or before its old timestamp cannot bring it back), and forgets
  // deleted records whose delete time is <= `forget_before`.
  virtual absl::StatusOr<MutationResult> Expire(int64_t cutoff,
                                                int64_t forget_before) = 0;

  // The present entries and the version they reflect, read consistently.
  virtual absl::StatusOr<Snapshot> ReadSnapshot() = 0;
  // The present entries with their attribution, read consistently, in any
  // order. For admins (vsmtprelay --attribution); costs more than
  // ReadSnapshot, which agents get.
  virtual absl::StatusOr<std::vector<AttributedEntry>> ReadAttributed() = 0;

  // Up to `limit` changes with version > `since`, in order. OutOfRangeError
  // when `since` is older than the retained change log or newer than the
  // current version: the caller then needs a snapshot.
  virtual absl::StatusOr<std::vector<StateChange>> ChangesSince(
      uint64_t since, size_t limit) = 0;

  virtual absl::StatusOr<uint64_t> Version() = 0;
  virtual absl::StatusOr<int64_t> EntryCount() = 0;
  // Present entries whose ticks are later than `ticks`: with `ticks` = now
  // plus the allowed clock skew, the future-stamped ones (an admin's
  // vsmtprelay add IP TICKS), which no expiry removes. Walks only those.
  virtual absl::StatusOr<int64_t> CountLaterThan(int64_t ticks) = 0;

  // How many MergeLogins calls the store serves at once to good effect; the
  // coordinator runs that many merge threads. A tuning hint only: every
  // call of every store is thread-safe, and the data path is the same.
  virtual int concurrent_merges() const { return 1; }

  // Blocks until the store's version exceeds `since`, its epoch changes, or
  // `timeout` passes; returns the current version. The coordinator learns
  // every committed change this way (then ChangesSince), its own included,
  // whatever the store: see coordinator/change_feed.h.
  virtual absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                                 absl::Duration timeout) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_STORE_H_
