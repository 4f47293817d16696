// The notify socket: a unix datagram socket on which local programs (e.g. a
// Dovecot post-login script) report logins to the agent, and the client
// function they use. One datagram, one line:
//   "v1\tIP\tUSER\tPROTOCOL\tSOURCE\n"   PROTOCOL: pop3 | imap | unknown
// The trailing newline is optional; SOURCE may be empty.
#ifndef RELAYSYNC_AGENT_NOTIFY_SOCKET_H_
#define RELAYSYNC_AGENT_NOTIFY_SOCKET_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/notify_senders.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

// Longest datagram accepted; longer ones are dropped.
inline constexpr size_t kMaxNotifyMessageBytes = 2048;

// The datagram for `login` (its address, user, protocol and source; the time
// is the receiver's). InvalidArgument if a field cannot be carried: address
// not parseable, user empty or with control characters, or a field longer
// than kMaxTextField.
absl::StatusOr<std::string> FormatNotifyMessage(const LocalLogin& login);

// Parses one datagram. The address is canonicalized; login_time is `now`;
// source is "notify:" + SOURCE ("notify" if empty), so a sender cannot pose
// as another kind of source. Errors say what is wrong.
absl::StatusOr<LocalLogin> ParseNotifyMessage(absl::string_view message,
                                              int64_t now);

// Sends `login` to the agent listening at `socket_path`. Never blocks longer
// than `timeout` (the only wait is for room in a full receive queue). A
// missing socket (NotFound) or one nobody listens on (Unavailable) fails at
// once; errors name the path.
// Fire and forget: OK means the datagram is in the agent's receive queue,
// not that the login is safe (a killed agent loses its queue).
absl::Status SendNotify(const std::string& socket_path, const LocalLogin& login,
                        absl::Duration timeout);

// Sends `login` and waits, all within `timeout`, for the agent's answer:
// OK once the login is in the agent's spool (fdatasync'ed). Aborted with
// the agent's reason if it refused the login or could not store it;
// DeadlineExceeded if no answer came (the agent may or may not have it);
// NotFound / Unavailable as SendNotify. The sender binds an abstract
// address (autobind) for the answer, so the agent must share its network
// namespace.
absl::Status SendNotifyConfirmed(const std::string& socket_path,
                                 const LocalLogin& login,
                                 absl::Duration timeout);

// Listens on the notify socket. Thread-safety: Start/Stop from any thread.
// A sender that bound an address (SendNotifyConfirmed) is answered "ok" once
// the sink has stored its login, or "error" with why.
//
// Who may report logins is decided twice: the socket's group and mode say
// who may send at all, and the credentials the kernel attaches to each
// datagram (SO_PASSCRED: the sender's pid, uid and primary gid, which it
// cannot forge) must be allowed by `senders`. A datagram from anyone else,
// or without credentials, is dropped, counted and logged (rate limited).
class NotifySource : public EventSource {
 public:
  struct Options {
    std::string socket_path;
    // Applied with chmod after bind (and chown to `group` if set).
    mode_t mode = 0660;
    std::optional<gid_t> group;
    // Whose datagrams count.
    NotifySenders senders = NotifySenders::RootAndSelf();
    // login_time of received logins. Not owned; must outlive the source.
    const Clock* clock = SystemClock::Get();
  };

  explicit NotifySource(Options options);
  ~NotifySource() override;

  // Binds the socket. A stale socket file (nobody listening) is replaced;
  // a live one (another agent) or a non-socket file at the path is an error.
  absl::Status Start(Sink sink) override;
  // Also removes the socket file if it is still ours.
  void Stop() override;
  std::string Name() const override;  // "notify:" + socket_path

  // Datagrams dropped as invalid so far (for tests and metrics).
  uint64_t dropped() const { return dropped_.load(); }
  // Datagrams refused because of their sender so far.
  uint64_t refused() const { return refused_.load(); }

 private:
  void Run();
  void ReceiveAvailable();
  void Drop(absl::string_view message, const absl::Status& why);
  void Refuse(const std::string& sender);

  const Options options_;
  Sink sink_;
  std::mutex lifecycle_mu_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> refused_{0};
  RateLimitedLog drop_log_{absl::Minutes(1)};
  RateLimitedLog refuse_log_{absl::Minutes(1)};
  bool started_ = false;
  bool stopped_ = false;
  int fd_ = -1;
  int wake_fd_ = -1;
  ino_t socket_inode_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_SOCKET_H_
