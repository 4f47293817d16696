// The per-address merge rules shared by every Store implementation, so the
// embedded and Redis stores cannot drift apart (Redis mirrors them in Lua).
#ifndef RELAYSYNC_BACKENDS_STORE_RELAY_RECORD_H_
#define RELAYSYNC_BACKENDS_STORE_RELAY_RECORD_H_

#include <algorithm>
#include <cstdint>

#include "backends/store/store.h"

namespace relaysync {

// login_time: the latest login (or admin add); delete_time: the time after
// which a login must fall to count again. Present iff login_time >
// delete_time. A fresh record is {0, 0}: absent. `who` goes with
// login_time: whoever set it last. It is never visible to agents, so
// changing only `who` is no visible change.
struct RelayRecord {
  int64_t login_time = 0;
  int64_t delete_time = 0;
  Attribution who;

  bool present() const { return login_time > delete_time; }

  // A login: the larger time wins, with its attribution; on a tie the
  // record keeps its own (a re-sent login then writes nothing). Returns
  // true if the visible state changed.
  bool MergeLogin(int64_t t, const Attribution& by = {}) {
    if (t <= login_time) return false;
    const bool was = present();
    login_time = t;
    who = by;
    return present() || was;
  }

  // Admin add: exactly `ticks`, and deletes before it no longer matter.
  // The admin's attribution replaces any other, even at the same ticks.
  bool Put(int64_t ticks, const Attribution& by = {}) {
    const bool changed = !present() || login_time != ticks;
    login_time = ticks;
    delete_time = std::min(delete_time, ticks - 1);
    who = by;
    return changed;
  }

  // Admin delete at `now` (also removes future-dated entries). Returns true
  // if it was present.
  bool Delete(int64_t now) {
    const bool was = present();
    delete_time = std::max({delete_time, now, login_time});
    return was;
  }

  // Expiry: remove if present with login_time <= cutoff.
  bool Expire(int64_t cutoff) {
    if (!present() || login_time > cutoff) return false;
    delete_time = login_time;
    return true;
  }
};

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_RELAY_RECORD_H_
