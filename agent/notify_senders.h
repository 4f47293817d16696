// Who may report logins on the notify socket: every datagram carries its
// sender's kernel-checked credentials (SO_PASSCRED), and only allowed users
// and groups count. Anyone who may report a login can make any address
// relay through every host, so the socket's file mode is not the only gate.
#ifndef RELAYSYNC_AGENT_NOTIFY_SENDERS_H_
#define RELAYSYNC_AGENT_NOTIFY_SENDERS_H_

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace relaysync {

class NotifySenders {
 public:
  // root and this process's effective uid: both can write the map anyway.
  static NotifySenders RootAndSelf();
  // RootAndSelf plus `users` and `groups` (names or numbers) and, if not
  // empty, `socket_group`. Errors name the unknown user or group.
  static absl::StatusOr<NotifySenders> Make(
      const std::vector<std::string>& users,
      const std::vector<std::string>& groups, const std::string& socket_group);

  void AllowUid(uid_t uid) { uids_.insert(uid); }
  void AllowGid(gid_t gid) { gids_.insert(gid); }
  // The sender's uid or its primary gid (the only group the kernel passes)
  // is allowed.
  bool Allows(uid_t uid, gid_t gid) const;
  // "uids 0,107 gids 120", for the agent's start-up line.
  std::string ToString() const;

 private:
  std::set<uid_t> uids_;
  std::set<gid_t> gids_;
};

// A user or group given by name or number. A number need not exist in the
// user database; a name must. Errors name it.
absl::StatusOr<uid_t> LookUpUser(absl::string_view name_or_number);
absl::StatusOr<gid_t> LookUpGroup(absl::string_view name_or_number);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_SENDERS_H_
