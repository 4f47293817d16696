// The EventSource seam: anything that observes successful POP/IMAP logins on
// this host (Dovecot log tail, notify socket) and hands them to the agent.
#ifndef RELAYSYNC_AGENT_EVENT_SOURCE_H_
#define RELAYSYNC_AGENT_EVENT_SOURCE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "agent/local_login.h"

namespace relaysync {

class EventSource {
 public:
  // Called once per login, from the source's own thread, never concurrently
  // with itself. A source does not consider an event consumed (e.g. does not
  // advance its saved log offset) until the sink has returned, so a sink that
  // makes the login durable (Spool::Append) gives at-least-once delivery.
  using Sink = std::function<void(const LocalLogin&)>;

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
