// SendWindow: which spooled logins one Sync stream still has to send. The
// spool hands out its oldest unacknowledged logins in sequence order, so a
// stream needs only the highest sequence it sent, plus the few the
// coordinator deferred (rate limit) to send again: memory stays bounded by
// the deferred ones however long the stream lives. Remembering every sent
// event id instead grew by ~90 bytes per login for a stream's lifetime.
#ifndef RELAYSYNC_AGENT_SEND_WINDOW_H_
#define RELAYSYNC_AGENT_SEND_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "agent/spool.h"

namespace relaysync {

// Not thread-safe: one per stream, used by its sending thread.
class SendWindow {
 public:
  // From `pending` (the spool's oldest unacknowledged logins, oldest first),
  // those not sent on this stream yet, or deferred since, at most `limit`;
  // they count as sent from now on.
  std::vector<const SpooledLogin*> Next(
      const std::vector<SpooledLogin>& pending, size_t limit);
  // The coordinator put these off: Next() returns them again while they
  // are pending. Ids never sent, or acknowledged meanwhile, are ignored.
  void Deferred(const std::vector<std::string>& event_ids);

  // Event ids remembered (the deferred ones not sent again yet).
  size_t remembered() const { return deferred_.size(); }

 private:
  uint64_t sent_through_ = 0;  // every sequence up to this one was sent
  std::unordered_set<std::string> deferred_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SEND_WINDOW_H_
