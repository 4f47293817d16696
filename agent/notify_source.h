// NotifySource: the agent's end of the notify socket, a unix datagram
// socket on which local programs (e.g. a Dovecot post-login script) report
// logins with SendNotify (notify_client.h). The datagrams and answers are
// notify_message.h's.
#ifndef RELAYSYNC_AGENT_NOTIFY_SOURCE_H_
#define RELAYSYNC_AGENT_NOTIFY_SOURCE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/notify_senders.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

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
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> refused_{0};
  RateLimitedLog drop_log_{absl::Minutes(1)};
  RateLimitedLog refuse_log_{absl::Minutes(1)};

  // Start and Stop, serialized.
  absl::Mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);

  // Set by Start before the thread exists, used by the thread, closed by
  // Stop after joining it: never shared by two threads at once.
  Sink sink_;
  int fd_ = -1;
  int wake_fd_ = -1;
  ino_t socket_inode_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_SOURCE_H_
