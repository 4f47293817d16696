// Who can reach a file, judged from its mode and owner as the kernel would
// for another user (relaysync-agent check-config): the MTA user reading the
// map, the Dovecot post-login user writing to the notify socket. And
// sendmail's rule for a safe map path: no directory on the way to it may be
// group- or world-writable (safefile.c, safedirpath()).
#ifndef RELAYSYNC_AGENT_FILE_ACCESS_H_
#define RELAYSYNC_AGENT_FILE_ACCESS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace relaysync {

// A user with the groups the kernel would give its processes.
struct UserIds {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;            // primary group
  std::vector<gid_t> gids;  // every group, the primary one included
};

// A user by name or number (getpwnam/getpwuid, getgrouplist). NotFound
// names it.
absl::StatusOr<UserIds> LookUpUserIds(const std::string& name_or_number);
// The user this process runs as (effective uid).
UserIds CurrentUserIds();

// Access bits, as in access(2).
enum Access : int { kRead = 4, kWrite = 2, kSearch = 1 };

// Whether `user` may do `want` (Access bits) on a file with `st`, by its
// owner, group and mode; root may read and write anything, and search or
// execute what has an x bit.
bool Allows(const struct stat& st, const UserIds& user, int want);

// The directories on the way to `path`, nearest first ("/etc/mail",
// "/etc", "/"); a relative path is taken from the current directory.
std::vector<std::string> ParentDirs(const std::string& path);

// The first directory of ParentDirs(path) that `user` cannot search, with
// why, or "" if every one can be.
std::string FirstUnsearchable(const std::string& path, const UserIds& user);

// The directories of ParentDirs(path) writable by group or others (which
// sendmail refuses a map under, sticky bit or not, unless DontBlameSendmail
// says otherwise), each as "DIR (mode 0775)".
std::vector<std::string> UnsafeDirs(const std::string& path);

// "0644".
std::string ModeText(mode_t mode);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_FILE_ACCESS_H_
