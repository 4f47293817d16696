// See notify_senders.h.
#include "agent/notify_senders.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace relaysync {
namespace {

// getpwnam_r / getgrnam_r want a caller's buffer; 64 KiB fits any entry.
constexpr size_t kLookupBuffer = 64 * 1024;

}  // namespace

NotifySenders NotifySenders::RootAndSelf() {
  NotifySenders senders;
  senders.AllowUid(0);
  senders.AllowUid(geteuid());
  return senders;
}

absl::StatusOr<NotifySenders> NotifySenders::Make(
    const std::vector<std::string>& users,
    const std::vector<std::string>& groups, const std::string& socket_group) {
  NotifySenders senders = RootAndSelf();
  for (const std::string& user : users) {
    absl::StatusOr<uid_t> uid = LookUpUser(user);
    if (!uid.ok()) return uid.status();
    senders.AllowUid(*uid);
  }
  std::vector<std::string> all_groups = groups;
  if (!socket_group.empty()) all_groups.push_back(socket_group);
  for (const std::string& group : all_groups) {
    absl::StatusOr<gid_t> gid = LookUpGroup(group);
    if (!gid.ok()) return gid.status();
    senders.AllowGid(*gid);
  }
  return senders;
}

bool NotifySenders::Allows(uid_t uid, gid_t gid) const {
  return uids_.count(uid) != 0 || gids_.count(gid) != 0;
}

std::string NotifySenders::ToString() const {
  std::string text = absl::StrCat("uids ", absl::StrJoin(uids_, ","));
  if (!gids_.empty())
    absl::StrAppend(&text, " gids ", absl::StrJoin(gids_, ","));
  return text;
}

absl::StatusOr<uid_t> LookUpUser(absl::string_view name_or_number) {
  uint32_t number;
  if (absl::SimpleAtoi(name_or_number, &number)) {
    return static_cast<uid_t>(number);
  }
  const std::string name(name_or_number);
  std::string buffer(kLookupBuffer, '\0');
  struct passwd entry;
  struct passwd* found = nullptr;
  int err =
      getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "user \"", name, "\": ", err != 0 ? strerror(err) : "no such user"));
  }
  return found->pw_uid;
}

absl::StatusOr<gid_t> LookUpGroup(absl::string_view name_or_number) {
  uint32_t number;
  if (absl::SimpleAtoi(name_or_number, &number)) {
    return static_cast<gid_t>(number);
  }
  const std::string name(name_or_number);
  std::string buffer(kLookupBuffer, '\0');
  struct group entry;
  struct group* found = nullptr;
  int err =
      getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "group \"", name, "\": ", err != 0 ? strerror(err) : "no such group"));
  }
  return found->gr_gid;
}

}  // namespace relaysync
