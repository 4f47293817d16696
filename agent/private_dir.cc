// See private_dir.h.
#include "agent/private_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace relaysync {

absl::Status MakePrivateDirectory(const std::string& path) {
  const std::string what = absl::StrCat("spool dir ", path, ": ");
  const bool created = mkdir(path.c_str(), 0700) == 0;
  if (!created && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat(what, "mkdir: ", strerror(errno)));
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOTDIR || err == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, "not a directory (a symbolic link is refused)"));
    }
    return absl::UnavailableError(absl::StrCat(what, strerror(err)));
  }
  struct stat st;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = absl::UnavailableError(absl::StrCat(what, strerror(errno)));
  } else if (st.st_uid != geteuid()) {
    status = absl::FailedPreconditionError(absl::StrCat(
        what, "owned by uid ", st.st_uid, ", not by the agent's uid ",
        geteuid(), "; another user could put logins into it"));
  } else if ((st.st_mode & 07777) != 0700) {
    if (fchmod(fd, 0700) != 0) {
      status = absl::UnavailableError(
          absl::StrCat(what, "chmod 0700: ", strerror(errno)));
    } else if (!created) {
      LogWarning(what, "was mode ", absl::StrFormat("%04o", st.st_mode & 07777),
                 ": only the agent may use it; set to 0700");
    }
  }
  close(fd);
  return status;
}

}  // namespace relaysync
