// The agent's spool folder holds the logins it will write into the map and
// send to the coordinator: whoever can change it can grant relaying, and
// whoever can read it learns every client address. Only the agent may.
#ifndef RELAYSYNC_AGENT_PRIVATE_DIR_H_
#define RELAYSYNC_AGENT_PRIVATE_DIR_H_

#include <string>

#include "absl/status/status.h"

namespace relaysync {

// Creates `path` with mode 0700 (whatever the umask) if it is missing. An
// existing one must be a directory, not a symbolic link, owned by this
// process's effective uid (else FailedPrecondition: another user could have
// put records in it); if group or others have any access to it, it is set
// to 0700 with a warning. Errors name the path and why.
absl::Status MakePrivateDirectory(const std::string& path);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_PRIVATE_DIR_H_
