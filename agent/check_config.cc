// relaysync-agent check-config: the checks on local files. The coordinator
// check is in check_coordinator.cc.
#include "agent/check_config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/check_coordinator.h"
#include "agent/check_report.h"
#include "agent/file_access.h"
#include "agent/notify_senders.h"

namespace relaysync {
namespace {

// Kinds rebuilt whole and renamed into place: the agent needs the directory.
bool Replaced(MapKind kind) {
  return kind == MapKind::kEximDbm || kind == MapKind::kEximDbmnz ||
         kind == MapKind::kCdb || kind == MapKind::kText;
}

// The user named by `flag`, else `fallback`; a missing default user is a
// warning (that MTA may not be installed here), a missing named one fails.
bool MtaUser(const std::string& flag, const std::string& fallback,
             const std::string& what, CheckReport* r, UserIds* user) {
  const std::string name = flag.empty() ? fallback : flag;
  absl::StatusOr<UserIds> u = LookUpUserIds(name);
  if (u.ok()) {
    *user = *u;
    return true;
  }
  const std::string text = absl::StrCat(
      what, ": cannot check who reads it: ", u.status().message(),
      ": give --mta-user=USER, the account your MTA reads maps as");
  if (flag.empty()) {
    r->Warn(text);
  } else {
    r->Fail(text);
  }
  return false;
}

void CheckAgentWrites(const MapOutput& map, const std::string& what,
                      bool exists, const UserIds& agent, CheckReport* r) {
  const std::string dir = ParentDirs(map.path).front();
  if (exists && !Replaced(map.kind) &&
      access(map.path.c_str(), R_OK | W_OK) != 0) {
    r->Fail(absl::StrCat(what, ": the agent's user ", agent.name,
                         " cannot write it (", strerror(errno),
                         "): chown it to that user, or run the agent as its "
                         "owner"));
    return;
  }
  if ((!exists || Replaced(map.kind)) &&
      access(dir.c_str(), W_OK | X_OK) != 0) {
    r->Fail(absl::StrCat(what, ": the agent's user ", agent.name, " cannot ",
                         exists ? "replace" : "create", " files in ", dir, " (",
                         strerror(errno), "): chown the directory to it"));
    return;
  }
  r->Ok(absl::StrCat(what, ": writable by the agent's user ", agent.name,
                     exists ? "" : " (not there yet: the agent creates it)"));
}

void CheckMtaReads(const MapOutput& map, const std::string& what,
                   const struct stat* st, const std::string& mta_user,
                   CheckReport* r) {
  UserIds mta;
  if (!MtaUser(mta_user, DefaultMtaUser(map.kind), what, r, &mta)) return;
  if (std::string dir = FirstUnsearchable(map.path, mta); !dir.empty()) {
    r->Fail(absl::StrCat(what, ": the MTA user ", mta.name,
                         " cannot reach it: no search permission on ", dir,
                         ": chmod o+x (or give it the directory's group)"));
    return;
  }
  if (st != nullptr && !Allows(*st, mta, kRead)) {
    r->Fail(absl::StrCat(what, ": the MTA user ", mta.name,
                         " cannot read it (mode ", ModeText(st->st_mode),
                         ", owner ", st->st_uid, ":", st->st_gid,
                         "): chmod 0644, or chgrp it to a group of ", mta.name,
                         " and chmod 0640"));
    return;
  }
  r->Ok(absl::StrCat(what, ": readable by the MTA user ", mta.name));
}

void CheckMapPath(const MapOutput& map, const std::string& what,
                  const struct stat* st, CheckReport* r) {
  const std::vector<std::string> unsafe = UnsafeDirs(map.path);
  if (!unsafe.empty()) {
    const std::string dirs = absl::StrJoin(unsafe, ", ");
    if (map.kind == MapKind::kSendmail) {
      r->Fail(absl::StrCat(
          what, ": group- or world-writable directory on its path: ", dirs,
          ": sendmail refuses such a map (lookups fail, relaying is denied); "
          "chmod go-w, or move the map (e.g. /etc/mail)"));
    } else {
      r->Warn(absl::StrCat(what,
                           ": group- or world-writable directory on its "
                           "path: ",
                           dirs,
                           ": whoever can write there can replace the map and "
                           "grant relaying; chmod go-w"));
    }
  } else {
    r->Ok(absl::StrCat(what,
                       ": no group- or world-writable directory on its path"));
  }
  if (st != nullptr && (st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    const std::string text =
        absl::StrCat(what, ": writable by ",
                     (st->st_mode & S_IWOTH) ? "everyone" : "its group",
                     " (mode ", ModeText(st->st_mode),
                     "): whoever can write it can grant relaying; chmod go-w");
    if (st->st_mode & S_IWOTH) {
      r->Fail(text);
    } else {
      r->Warn(text);
    }
  }
}

void CheckMap(const MapOutput& map, const std::string& mta_user,
              const UserIds& agent, CheckReport* r) {
  const std::string what = absl::StrCat("map ", map.ToString());
  struct stat st;
  const bool exists = stat(map.path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) {
    r->Fail(absl::StrCat(what, ": ", strerror(errno)));
    return;
  }
  if (exists && !S_ISREG(st.st_mode)) {
    r->Fail(absl::StrCat(what, ": not a regular file"));
    return;
  }
  CheckAgentWrites(map, what, exists, agent, r);
  CheckMtaReads(map, what, exists ? &st : nullptr, mta_user, r);
  CheckMapPath(map, what, exists ? &st : nullptr, r);
}

// A datagram socket with no agent behind it refuses a connect.
bool SomeoneListens(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

void CheckNotifySocket(const CheckConfigOptions& o, CheckReport* r) {
  const std::string what = absl::StrCat("--notify-socket ", o.notify_socket);
  struct stat st;
  if (lstat(o.notify_socket.c_str(), &st) != 0) {
    r->Fail(absl::StrCat(what, ": ", strerror(errno),
                         ": start the agent (it makes the socket), and give "
                         "Dovecot's post-login script the same path "
                         "(RELAYSYNC_NOTIFY_SOCKET)"));
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    r->Fail(absl::StrCat(what,
                         ": not a socket: remove it; the agent makes "
                         "the socket when it starts"));
    return;
  }
  if (!SomeoneListens(o.notify_socket)) {
    r->Fail(absl::StrCat(what,
                         ": nothing listens on it (left by an agent "
                         "that stopped): start the agent"));
    return;
  }
  std::string name = o.notify_user;
  if (name.empty() && !o.notify_allow_users.empty()) {
    name = o.notify_allow_users.front();
  }
  UserIds sender = CurrentUserIds();
  if (!name.empty()) {
    absl::StatusOr<UserIds> u = LookUpUserIds(name);
    if (!u.ok()) {
      r->Fail(absl::StrCat(what, ": --notify-user: ", u.status().message()));
      return;
    }
    sender = *u;
  }
  const std::string who = absl::StrCat("the post-login user ", sender.name);
  if (std::string dir = FirstUnsearchable(o.notify_socket, sender);
      !dir.empty()) {
    r->Fail(absl::StrCat(what, ": ", who,
                         " cannot reach it: no search "
                         "permission on ",
                         dir, ": chmod o+x, or give it the directory's group"));
    return;
  }
  if (!Allows(st, sender, kWrite)) {
    r->Fail(absl::StrCat(what, ": ", who, " cannot write to it (mode ",
                         ModeText(st.st_mode), ", owner ", st.st_uid, ":",
                         st.st_gid,
                         "): see --notify-socket-mode and "
                         "--notify-socket-group"));
    return;
  }
  absl::StatusOr<NotifySenders> senders = NotifySenders::Make(
      o.notify_allow_users, o.notify_allow_groups, o.notify_socket_group);
  if (!senders.ok()) {
    r->Fail(absl::StrCat(what, ": ", senders.status().message()));
    return;
  }
  if (!senders->Allows(sender.uid, sender.gid)) {
    r->Fail(absl::StrCat(what, ": the agent refuses reports from ", who,
                         ": add --notify-allow-uid=", sender.name));
    return;
  }
  r->Ok(absl::StrCat(what, ": a listening socket ", who,
                     " can reach and write, and whose reports the agent "
                     "accepts"));
}

void CheckWatchLog(const std::string& path, const UserIds& agent,
                   CheckReport* r) {
  const std::string what = absl::StrCat("--watch-log ", path);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    r->Fail(absl::StrCat(what, ": ", strerror(errno),
                         ": give Dovecot's log_path (doveconf log_path)"));
    return;
  }
  if (access(path.c_str(), R_OK) != 0) {
    r->Fail(absl::StrCat(what, ": the agent's user ", agent.name,
                         " cannot read it (", strerror(errno),
                         "): add it to the file's group, or chmod g+r"));
    return;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    r->Fail(absl::StrCat(what, ": writable by group or others (mode ",
                         ModeText(st.st_mode),
                         "): anyone who can write it can forge logins, and "
                         "the agent refuses it; chmod go-w"));
    return;
  }
  if (std::vector<std::string> unsafe = UnsafeDirs(path); !unsafe.empty()) {
    r->Warn(absl::StrCat(what,
                         ": group- or world-writable directory on its "
                         "path: ",
                         absl::StrJoin(unsafe, ", "),
                         ": whoever can write there can replace the log"));
    return;
  }
  r->Ok(absl::StrCat(what, ": readable by the agent, writable by no one else"));
}

}  // namespace

std::string DefaultMtaUser(MapKind kind) {
  switch (kind) {
    case MapKind::kSendmail:
      return "root";
    case MapKind::kPostfixHash:
    case MapKind::kPostfixLmdb:
    case MapKind::kCdb:
      return "postfix";
    case MapKind::kEximDbm:
    case MapKind::kEximDbmnz:
    case MapKind::kText:
      return "Debian-exim";
  }
  return "root";
}

int CheckConfig(const CheckConfigOptions& options, std::ostream& out) {
  CheckReport report(out);
  const UserIds agent = CurrentUserIds();
  for (const MapOutput& map : options.maps) {
    CheckMap(map, options.mta_user, agent, &report);
  }
  CheckCoordinators(options, &report);
  if (!options.notify_socket.empty()) CheckNotifySocket(options, &report);
  for (const std::string& log : options.watch_logs) {
    CheckWatchLog(log, agent, &report);
  }
  return report.Finish();
}

}  // namespace relaysync
