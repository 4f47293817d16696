// LocalRecorder: the one route by which a login on this host enters the
// agent's state. It goes to the spool first (durable, and sent to the
// coordinator from there until acknowledged), then to the relay map as a
// local login pending acknowledgement (so it relays here at once).
#ifndef RELAYSYNC_AGENT_LOCAL_RECORDER_H_
#define RELAYSYNC_AGENT_LOCAL_RECORDER_H_

#include <vector>

#include "absl/status/status.h"
#include "agent/local_login.h"
#include "agent/materializer.h"
#include "agent/spool.h"
#include "agent/sync_signal.h"
#include "common/rate_limited_log.h"
#include "common/relay_state.h"

namespace relaysync {

// Thread-safe (the spool and the materializer are). The signal is woken
// between the two steps: the client sends from the spool while the map is
// being written, so the coordinator's ack may reach the materializer before
// AddLocal() does (it handles that, see Materializer::Acknowledged).
class LocalRecorder {
 public:
  // None owned; all must outlive the recorder.
  LocalRecorder(Spool* spool, Materializer* materializer, SyncSignal* signal);

  // New logins from an event source. A spool failure does not keep them
  // out of the map (they relay here, but never reach the cluster): it is
  // logged and returned as UNAVAILABLE. A map failure is logged and not
  // returned: they are spooled, and the next write of any kind rebuilds
  // the map. Both logs are rate-limited (one line a minute).
  absl::Status Record(const std::vector<LocalLogin>& logins);

  // What the map holds, spooled again as logins (source "resync") because
  // the store lost state this agent applied; they stay in the map as
  // pending local logins. Returns the spool's status. On its failure the
  // map is left alone, so that a retry does not count them pending twice;
  // once it is OK they are spooled, and must not be resent again. A failed
  // map write is not returned: the materializer holds them, and its next
  // write (the snapshot that follows) rebuilds the map first.
  absl::Status Resend(const std::vector<StateEntry>& held);

 private:
  struct Outcome {
    absl::Status spool;
    absl::Status map;  // OK when the map was not written
  };
  // Spool, wake, map: the pair every local login goes through. With
  // `map_unspooled` the map is written even if the spool failed.
  Outcome SpoolThenMap(const std::vector<LocalLogin>& logins,
                       bool map_unspooled);

  Spool* const spool_;
  Materializer* const materializer_;
  SyncSignal* const signal_;
  RateLimitedLog map_trouble_{absl::Minutes(1)};
  RateLimitedLog spool_trouble_{absl::Minutes(1)};
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_LOCAL_RECORDER_H_
