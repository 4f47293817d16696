#include "agent/file_access.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace relaysync {
namespace {

UserIds FromPasswd(const struct passwd& pw) {
  UserIds u;
  u.name = pw.pw_name;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  // getgrouplist says how many there are when the buffer is too small.
  int n = 16;
  for (int attempt = 0; attempt < 4; ++attempt) {
    u.gids.resize(static_cast<size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, u.gids.data(), &n) >= 0) break;
  }
  u.gids.resize(static_cast<size_t>(std::max(n, 0)));
  if (std::find(u.gids.begin(), u.gids.end(), u.gid) == u.gids.end()) {
    u.gids.push_back(u.gid);
  }
  return u;
}

}  // namespace

absl::StatusOr<UserIds> LookUpUserIds(const std::string& name_or_number) {
  errno = 0;
  const struct passwd* pw = getpwnam(name_or_number.c_str());
  uint32_t number;
  if (pw == nullptr && absl::SimpleAtoi(name_or_number, &number)) {
    pw = getpwuid(static_cast<uid_t>(number));
  }
  if (pw == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no user \"", name_or_number, "\" on this host"));
  }
  return FromPasswd(*pw);
}

UserIds CurrentUserIds() {
  const uid_t uid = geteuid();
  if (const struct passwd* pw = getpwuid(uid); pw != nullptr) {
    return FromPasswd(*pw);
  }
  UserIds u;
  u.name = absl::StrCat(uid);
  u.uid = uid;
  u.gid = getegid();
  u.gids = {u.gid};
  return u;
}

bool Allows(const struct stat& st, const UserIds& user, int want) {
  if (user.uid == 0) {
    // CAP_DAC_OVERRIDE: everything but executing what no one may.
    return (want & kSearch) == 0 || S_ISDIR(st.st_mode) ||
           (st.st_mode & 0111) != 0;
  }
  int shift = 0;
  if (st.st_uid == user.uid) {
    shift = 6;
  } else if (std::find(user.gids.begin(), user.gids.end(), st.st_gid) !=
             user.gids.end()) {
    shift = 3;
  }
  const int bits = static_cast<int>((st.st_mode >> shift) & 07);
  return (bits & want) == want;
}

std::vector<std::string> ParentDirs(const std::string& path) {
  std::string p = path;
  if (p.empty() || p[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) p = absl::StrCat(cwd, "/", p);
  }
  std::vector<std::string> out;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  for (size_t slash = p.rfind('/'); slash != std::string::npos;
       slash = p.rfind('/')) {
    p.resize(slash == 0 ? 1 : slash);
    out.push_back(p);
    if (slash == 0) break;
  }
  return out;
}

std::string FirstUnsearchable(const std::string& path, const UserIds& user) {
  for (const std::string& dir : ParentDirs(path)) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) {
      return absl::StrCat(dir, ": ", strerror(errno));
    }
    if (!Allows(st, user, kSearch)) {
      return absl::StrCat(dir, " (mode ", ModeText(st.st_mode), ", owner ",
                          st.st_uid, ":", st.st_gid, ")");
    }
  }
  return "";
}

std::vector<std::string> UnsafeDirs(const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& dir : ParentDirs(path)) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH))) {
      out.push_back(absl::StrCat(dir, " (mode ", ModeText(st.st_mode), ")"));
    }
  }
  return out;
}

std::string ModeText(mode_t mode) {
  return absl::StrFormat("%04o", static_cast<unsigned>(mode & 07777));
}

}  // namespace relaysync
