// See notify_client.h.
#include "agent/notify_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/notify_message.h"

namespace relaysync {
namespace {

// Sends `message` on the connected socket `fd`, waiting up to `deadline`
// for room in a full receive queue.
absl::Status SendDatagram(int fd, const std::string& message,
                          const std::string& socket_path, absl::Time deadline,
                          absl::Duration timeout) {
  for (;;) {
    ssize_t n = send(fd, message.data(), message.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(message.size())) return absl::OkStatus();
    if (n >= 0) {
      return absl::InternalError(
          absl::StrCat("notify socket ", socket_path, ": short send"));
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return NotifyConnectError(socket_path, errno);
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("notify socket ", socket_path,
                       ": agent did not take the message within ",
                       absl::FormatDuration(timeout), " (queue full)"));
    }
    // Short slices: some kernels do not signal POLLOUT for a peer's queue.
    // A timeout or EINTR just means: send again.
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (poll(&pfd, 1,
             static_cast<int>(std::min<int64_t>(
                 10, absl::ToInt64Milliseconds(left) + 1))) < 0 &&
        errno != EINTR) {
      return absl::InternalError(absl::StrCat("notify socket ", socket_path,
                                              ": poll: ", strerror(errno)));
    }
  }
}

// A non-blocking datagram socket connected to the agent's; with `answerable`
// first bound to an abstract address of the kernel's choosing (autobind),
// so the agent can answer.
absl::StatusOr<int> ConnectToAgent(const std::string& socket_path,
                                   bool answerable) {
  struct sockaddr_un addr;
  absl::Status status = NotifySocketAddress(socket_path, &addr);
  if (!status.ok()) return status;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  if (answerable) {
    struct sockaddr_un self;
    memset(&self, 0, sizeof(self));
    self.sun_family = AF_UNIX;
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&self),
             sizeof(sa_family_t)) != 0) {
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("bind: ", strerror(err)));
    }
  }
  // Connected, so that a full receive queue shows up as EAGAIN + POLLOUT on
  // this socket instead of a silent drop.
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    int err = errno;
    close(fd);
    return NotifyConnectError(socket_path, err);
  }
  return fd;
}

}  // namespace

absl::Status NotifySocketAddress(const std::string& path,
                                 struct sockaddr_un* addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("notify socket ", path, ": path empty or longer than ",
                     sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  memcpy(addr->sun_path, path.data(), path.size());
  return absl::OkStatus();
}

absl::Status NotifyConnectError(const std::string& path, int err) {
  std::string prefix = absl::StrCat("notify socket ", path, ": ");
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(
          absl::StrCat(prefix, "no such socket (is relaysync-agent running?)"));
    case ECONNREFUSED:
      return absl::UnavailableError(
          absl::StrCat(prefix, "connection refused (nobody is listening)"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat(prefix, "permission denied"));
    default:
      return absl::UnavailableError(absl::StrCat(prefix, strerror(err)));
  }
}

absl::Status SendNotify(const std::string& socket_path, const LocalLogin& login,
                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> message = FormatNotifyMessage(login);
  if (!message.ok()) return message.status();
  absl::StatusOr<int> fd = ConnectToAgent(socket_path, /*answerable=*/false);
  if (!fd.ok()) return fd.status();
  absl::Status status =
      SendDatagram(*fd, *message, socket_path, deadline, timeout);
  close(*fd);
  return status;
}

absl::Status SendNotifyConfirmed(const std::string& socket_path,
                                 const LocalLogin& login,
                                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> message = FormatNotifyMessage(login);
  if (!message.ok()) return message.status();
  absl::StatusOr<int> fd = ConnectToAgent(socket_path, /*answerable=*/true);
  if (!fd.ok()) return fd.status();
  absl::Status status =
      SendDatagram(*fd, *message, socket_path, deadline, timeout);
  while (status.ok()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "notify socket ", socket_path, ": agent did not confirm within ",
          absl::FormatDuration(timeout)));
      break;
    }
    // A timeout or EINTR just means: look (recv) and wait again.
    struct pollfd pfd = {*fd, POLLIN, 0};
    if (poll(&pfd, 1,
             static_cast<int>(std::max<int64_t>(
                 1, absl::ToInt64Milliseconds(left) + 1))) < 0 &&
        errno != EINTR) {
      status = absl::InternalError(absl::StrCat("notify socket ", socket_path,
                                                ": poll: ", strerror(errno)));
      break;
    }
    char buf[512];
    ssize_t n = recv(*fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      status = NotifyConnectError(socket_path, errno);
      break;
    }
    const absl::Status answer =
        ParseNotifyAnswer(absl::string_view(buf, static_cast<size_t>(n)));
    if (!answer.ok()) {
      status = absl::AbortedError(absl::StrCat("notify socket ", socket_path,
                                               ": agent: ", answer.message()));
    }
    break;
  }
  close(*fd);
  return status;
}

}  // namespace relaysync
