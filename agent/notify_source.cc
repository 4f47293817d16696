// See notify_source.h.
#include "agent/notify_source.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/notify_client.h"
#include "agent/notify_message.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

constexpr int kMaxMessagesPerRound = 256;
// Bounds each wait, so that Stop() is seen even without the eventfd.
constexpr int kPollMs = 200;

// A socket file nobody is bound to refuses connections: safe to replace.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("notify socket ", path, ": ", strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("notify socket ", path,
                     ": exists and is not a socket; refusing to replace it"));
  }
  struct sockaddr_un addr;
  if (absl::Status s = NotifySocketAddress(path, &addr); !s.ok()) return s;
  int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  int rc =
      connect(probe, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(probe);
  if (rc == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("notify socket ", path,
                     ": in use by another process (agent running?)"));
  }
  if (err != ECONNREFUSED) return NotifyConnectError(path, err);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(absl::StrCat(
        "notify socket ", path, ": removing stale socket: ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Where a confirming sender (SendNotifyConfirmed) waits for the answer:
// its autobound abstract address. len 0: the sender did not bind.
struct ReplyAddress {
  struct sockaddr_un addr;
  socklen_t len = 0;
};

// Answers a confirming sender; best effort (it may have given up).
void Reply(int fd, const ReplyAddress& to, absl::string_view answer) {
  if (to.len == 0) return;
  sendto(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
         reinterpret_cast<const struct sockaddr*>(&to.addr), to.len);
}

// Receives one datagram into `buf` (returning its real length, which may
// exceed `size`) with its sender's credentials, nullopt if none came with
// it. Descriptors a sender passes along (SCM_RIGHTS) are closed at once.
ssize_t ReceiveWithCredentials(int fd, char* buf, size_t size,
                               std::optional<struct ucred>* sender,
                               ReplyAddress* from) {
  alignas(struct cmsghdr) char
      control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
  struct iovec iov = {buf, size};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  msg.msg_name = &from->addr;
  msg.msg_namelen = sizeof(from->addr);
  sender->reset();
  // MSG_TRUNC: the return value is the datagram's real length.
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  // An unbound sender has no address to answer: it does not wait for one.
  from->len = msg.msg_namelen > sizeof(sa_family_t) ? msg.msg_namelen : 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      *sender = cred;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        close(passed);
      }
    }
  }
  return n;
}

}  // namespace

NotifySource::NotifySource(Options options) : options_(std::move(options)) {}

NotifySource::~NotifySource() { Stop(); }

std::string NotifySource::Name() const {
  return "notify:" + options_.socket_path;
}

absl::Status NotifySource::Start(Sink sink) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_) return absl::FailedPreconditionError("notify: started twice");
  const std::string& path = options_.socket_path;
  struct sockaddr_un addr;
  if (absl::Status s = NotifySocketAddress(path, &addr); !s.ok()) return s;
  absl::Status status = RemoveStaleSocket(path);
  if (!status.ok()) return status;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  struct stat st;
  std::string error;
  // Before bind: every datagram that can reach the socket carries its
  // sender's credentials.
  const int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
    error = absl::StrCat("setsockopt(SO_PASSCRED): ", strerror(errno));
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("notify socket ", path, ": ", error));
  }
  bool bound =
      bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) == 0;
  int wake = -1;
  if (!bound) {
    error = absl::StrCat("bind: ", strerror(errno));
  } else if (options_.group.has_value() &&
             chown(path.c_str(), static_cast<uid_t>(-1), *options_.group) !=
                 0) {
    error =
        absl::StrCat("chown to group ", *options_.group, ": ", strerror(errno));
  } else if (chmod(path.c_str(), options_.mode) != 0) {
    error = absl::StrCat("chmod: ", strerror(errno));
  } else if (lstat(path.c_str(), &st) != 0) {
    error = absl::StrCat("stat: ", strerror(errno));
  } else if ((wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    error = absl::StrCat("eventfd: ", strerror(errno));
  }
  if (!error.empty()) {
    close(fd);
    if (bound) unlink(path.c_str());
    return absl::UnavailableError(
        absl::StrCat("notify socket ", path, ": ", error));
  }
  fd_ = fd;
  wake_fd_ = wake;
  socket_inode_ = st.st_ino;
  sink_ = std::move(sink);
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread("notify");
    Run();
  });
  return absl::OkStatus();
}

void NotifySource::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  stop_.store(true);
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // The poll timeout still bounds the wait.
  }
  thread_.join();
  close(fd_);
  close(wake_fd_);
  fd_ = wake_fd_ = -1;
  // Only remove the file if it is still the one we bound (a newer agent may
  // have replaced it).
  struct stat st;
  if (lstat(options_.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_ino == socket_inode_) {
    unlink(options_.socket_path.c_str());
  }
}

void NotifySource::Run() {
  while (!stop_.load()) {
    struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, kPollMs) < 0 && errno != EINTR) {
      // Not expected with our own descriptors; still, never spin on it.
      drop_log_.Log(LogLevel::kWarning,
                    absl::StrCat("notify socket ", options_.socket_path,
                                 ": poll: ", strerror(errno)));
      absl::SleepFor(absl::Milliseconds(kPollMs));
      continue;
    }
    if (stop_.load()) break;
    if (fds[0].revents & POLLIN) ReceiveAvailable();
  }
}

void NotifySource::ReceiveAvailable() {
  char buf[kMaxNotifyMessageBytes + 1];
  // Everything waiting goes to the sink together: a burst of logins (a
  // login storm after an outage) costs one spool fsync and one map write.
  std::vector<LocalLogin> logins;
  std::vector<ReplyAddress> waiting;  // confirming senders of `logins`
  for (int i = 0; i < kMaxMessagesPerRound && !stop_.load(); ++i) {
    std::optional<struct ucred> sender;
    ReplyAddress from;
    ssize_t n = ReceiveWithCredentials(fd_, buf, sizeof(buf), &sender, &from);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        drop_log_.Log(LogLevel::kWarning,
                      absl::StrCat("notify socket ", options_.socket_path,
                                   ": recvmsg: ", strerror(errno)));
      }
      break;
    }
    if (!sender.has_value()) {
      Refuse("a sender without credentials");
      Reply(fd_, from, NotifyErrorAnswer("refused: no credentials"));
      continue;
    }
    if (!options_.senders.Allows(sender->uid, sender->gid)) {
      Refuse(absl::StrCat("pid ", sender->pid, " uid ", sender->uid, " gid ",
                          sender->gid));
      Reply(fd_, from,
            NotifyErrorAnswer(absl::StrCat("refused: uid ", sender->uid,
                                           " is not an allowed sender")));
      continue;
    }
    if (static_cast<size_t>(n) > kMaxNotifyMessageBytes) {
      const absl::Status why = absl::InvalidArgumentError(absl::StrCat(
          "message of ", n, " bytes is longer than ", kMaxNotifyMessageBytes));
      Drop(absl::string_view(buf, kMaxNotifyMessageBytes), why);
      Reply(fd_, from, NotifyErrorAnswer(why.message()));
      continue;
    }
    absl::string_view message(buf, static_cast<size_t>(n));
    absl::StatusOr<LocalLogin> login =
        ParseNotifyMessage(message, options_.clock->NowSeconds());
    if (!login.ok()) {
      Drop(message, login.status());
      Reply(fd_, from, NotifyErrorAnswer(login.status().message()));
      continue;
    }
    logins.push_back(std::move(*login));
    waiting.push_back(from);
  }
  if (logins.empty()) return;
  // "ok" only once the sink says the logins are safe (in the spool).
  const absl::Status stored = sink_(logins);
  const std::string answer = stored.ok() ? std::string(kNotifyAnswerOk)
                                         : NotifyErrorAnswer(stored.message());
  for (const ReplyAddress& to : waiting) Reply(fd_, to, answer);
}

void NotifySource::Drop(absl::string_view message, const absl::Status& why) {
  const uint64_t count = ++dropped_;
  // Anyone allowed to send can send garbage: do not let it flood the log.
  drop_log_.Log(LogLevel::kWarning,
                absl::StrCat("notify socket ", options_.socket_path,
                             ": dropped invalid message \"",
                             absl::CHexEscape(message.substr(0, 120)), "\": ",
                             why.message(), " (", count, " dropped so far)"));
}

void NotifySource::Refuse(const std::string& sender) {
  const uint64_t count = ++refused_;
  refuse_log_.Log(
      LogLevel::kWarning,
      absl::StrCat(
          "notify socket ", options_.socket_path,
          ": refused a login report from ", sender,
          ": not an allowed sender (allowed: ", options_.senders.ToString(),
          "; see --notify-allow-uid, --notify-allow-gid) (", count,
          " refused so far)"));
}

}  // namespace relaysync
