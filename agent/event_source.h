// The EventSource seam: anything that observes successful POP/IMAP logins on
// this host (Dovecot log tail, notify socket) and hands them to the agent.
#ifndef RELAYSYNC_AGENT_EVENT_SOURCE_H_
#define RELAYSYNC_AGENT_EVENT_SOURCE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/local_login.h"

namespace relaysync {

class EventSource {
 public:
  // Called with one or more logins, in order, from the source's own
  // thread, never concurrently with itself. A source hands over what it
  // has at once (the notify socket: every datagram waiting), so that one
  // spool fsync and one map write serve a burst. A source does not
  // consider an event consumed (e.g. does not advance its saved log
  // offset) until the sink has returned, so a sink that makes the logins
  // durable (Spool::Append) gives at-least-once delivery. The sink returns
  // OK once the logins are safe (or deliberately not taken); the notify
  // socket passes that on to senders that wait for it.
  using Sink = std::function<absl::Status(const std::vector<LocalLogin>&)>;

  virtual ~EventSource();

  // Sets up (opens files/sockets; errors are returned here, naming the path)
  // and starts the source's thread. Call at most once.
  virtual absl::Status Start(Sink sink) = 0;
  // Stops the thread and waits for it; the sink is not called after Stop()
  // returns. Idempotent; safe without Start(). Destructors call it.
  virtual void Stop() = 0;
  // For logs and metrics, e.g. "log:/var/log/dovecot.log".
  virtual std::string Name() const = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_EVENT_SOURCE_H_
