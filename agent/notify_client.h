// The sending side of the notify socket: what local programs (a Dovecot
// post-login script, `relaysync-agent notify`) use to report a login to
// the agent listening with NotifySource (notify_source.h). The datagram is
// notify_message.h's.
#ifndef RELAYSYNC_AGENT_NOTIFY_CLIENT_H_
#define RELAYSYNC_AGENT_NOTIFY_CLIENT_H_

#include <sys/un.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/local_login.h"

namespace relaysync {

// Sends `login` to the agent listening at `socket_path`. Never blocks longer
// than `timeout` (the only wait is for room in a full receive queue). A
// missing socket (NotFound) or one nobody listens on (Unavailable) fails at
// once; errors name the path.
// Fire and forget: OK means the datagram is in the agent's receive queue,
// not that the login is safe (a killed agent loses its queue).
absl::Status SendNotify(const std::string& socket_path, const LocalLogin& login,
                        absl::Duration timeout);

// Sends `login` and waits, all within `timeout`, for the agent's answer:
// OK once the login is in the agent's spool (fdatasync'ed). Aborted with
// the agent's reason if it refused the login or could not store it;
// DeadlineExceeded if no answer came (the agent may or may not have it);
// NotFound / Unavailable as SendNotify. The sender binds an abstract
// address (autobind) for the answer, so the agent must share its network
// namespace.
absl::Status SendNotifyConfirmed(const std::string& socket_path,
                                 const LocalLogin& login,
                                 absl::Duration timeout);

// Also used by NotifySource, which probes a socket file by connecting to it
// before it replaces a stale one:

// Fills `addr` for the socket at `path`; InvalidArgument naming the path if
// it is empty or does not fit sun_path.
absl::Status NotifySocketAddress(const std::string& path,
                                 struct sockaddr_un* addr);

// What connecting (or sending) to the socket at `path` failing with errno
// `err` means: NotFound (no such socket: is the agent running?),
// Unavailable (nobody listening, or anything else), PermissionDenied.
absl::Status NotifyConnectError(const std::string& path, int err);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_CLIENT_H_
