// See map_trouble.h.
#include "agent/map_trouble.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace relaysync {

std::string MapFix(const absl::Status& failure) {
  const absl::string_view m = failure.message();
  if (absl::StrContains(m, "not a Berkeley DB")) {
    return "move it away (the agent then rebuilds it from the cluster "
           "state) or put the right map back";
  }
  if (absl::StrContains(m, "not a regular file")) {
    return "remove what is there (the agent then creates the map)";
  }
  if (absl::IsPermissionDenied(failure) ||
      absl::StrContains(m, "Permission denied") ||
      absl::StrContains(m, "Read-only file system")) {
    return "fix its owner and permissions (and those of its directory) so "
           "that the agent's user can write it";
  }
  if (absl::StrContains(m, "No space left") ||
      absl::StrContains(m, "quota exceeded")) {
    return "free space on its file system";
  }
  if (absl::StrContains(m, "lock")) {
    return "find the process that keeps the map locked (fuser) and stop it";
  }
  return "check the file and its file system";
}

std::string MapTroubleMessage(absl::string_view doing,
                              const absl::Status& failure,
                              absl::Duration retry_max) {
  return absl::StrCat(
      "relay map (", doing, "): ", failure.message(), ": ", MapFix(failure),
      "; meanwhile logins stay spooled and are sent, the map keeps its last "
      "good state, and the agent retries with backoff, at least every ",
      absl::FormatDuration(retry_max));
}

}  // namespace relaysync
