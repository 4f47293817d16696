// What an agent sends on a Sync stream, checked before anything acts on it:
// the hello's shape and each login event of a batch. gRPC-free, so the
// SyncStream reactor and the fuzz target (fuzz/) run the same checks.
#ifndef RELAYSYNC_COORDINATOR_SYNC_INPUT_H_
#define RELAYSYNC_COORDINATOR_SYNC_INPUT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/store/store.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {

// InvalidArgument (the message names the field) unless the hello's host id
// is 1..kMaxTextField bytes. Who may claim which host id is not decided
// here.
absl::Status CheckHello(const v1::Hello& hello);

// A login batch split into what is merged and what is acknowledged.
struct CheckedLogins {
  // The valid events: canonical address (Address::ToString()) and
  // login_time > 0, in batch order.
  std::vector<Login> logins;
  // Each login's position in the batch (for its user name, source).
  std::vector<int> positions;
  // The id of every event, valid or not, in batch order: an invalid event
  // is acknowledged and dropped, since re-sending it would never succeed.
  std::vector<std::string> event_ids;
  // Each dropped event: its id (as sent) and why, for the agent, which
  // logs and counts it; `line` for the coordinator's own log:
  // "event 3 (mx1/17): why".
  struct Dropped {
    std::string event_id;
    std::string reason;
    std::string line;
  };
  std::vector<Dropped> dropped;
};

// InvalidArgument for a batch over kMaxLoginsPerBatch events (the stream
// ends); otherwise the batch split as above. An event is dropped for an
// address that Address::Parse refuses, login_time <= 0, or an event id over
// kMaxTextField bytes. Its user and source are free text, never a reason
// to drop it: whoever uses them cuts and escapes them (CleanLoginText).
absl::StatusOr<CheckedLogins> CheckLoginBatch(const v1::LoginBatch& batch);

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_SYNC_INPUT_H_
