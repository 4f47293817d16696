// The notify drop directory: where `relaysync-agent notify` leaves a login
// that the agent could not confirm (not running, killed, too slow), and
// which the agent drains at start and twice a second. Together with the
// notify socket's answer this makes the notify command's exit 0 mean "the
// login is safe": in the agent's spool, or in a file the agent will take.
//
// One file per login, `<time>-<pid>-<random>.login`, holding the notify
// datagram's line; written as `.tmp-...`, fsync'ed and renamed into place,
// so the agent never sees half a file. The directory is the notify socket's
// path plus ".d" unless configured. Its mode mirrors the socket's (whoever
// may send may drop a file) with the sticky bit, so senders cannot remove
// each other's files; a file counts only if its owner is an allowed sender
// (the same NotifySenders rule as the socket's credentials).
#ifndef RELAYSYNC_AGENT_NOTIFY_DROP_DIR_H_
#define RELAYSYNC_AGENT_NOTIFY_DROP_DIR_H_

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/event_source.h"
#include "agent/local_login.h"
#include "agent/notify_senders.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"

namespace relaysync {

// The drop directory that goes with a notify socket path.
std::string DefaultNotifyDropDir(const std::string& socket_path);

// Client side: writes `login` into `dir` durably (file and directory
// fsync'ed). Errors name the directory.
absl::Status WriteNotifyDropFile(const std::string& dir,
                                 const LocalLogin& login);

// The notify command's whole route: the socket with confirmation within
// most of `timeout`, else the drop directory. OK means the login is safe.
// Aborted when the agent refused the login (no file is written then).
absl::Status NotifyDurably(const std::string& socket_path,
                           const std::string& drop_dir, const LocalLogin& login,
                           absl::Duration timeout);

class NotifyDropDir : public EventSource {
 public:
  struct Options {
    std::string dir;
    // The notify socket's mode: who may write the socket may drop files.
    mode_t socket_mode = 0660;
    std::optional<gid_t> group;
    NotifySenders senders = NotifySenders::RootAndSelf();
    const Clock* clock = SystemClock::Get();  // not owned
    absl::Duration interval = absl::Milliseconds(500);
  };

  explicit NotifyDropDir(Options options);
  ~NotifyDropDir() override;

  // Creates the directory if needed (refusing a symlink or a non-directory)
  // and sets its group and mode; then drains it now and every interval.
  absl::Status Start(Sink sink) override;
  void Stop() override;
  std::string Name() const override { return "notify-dir:" + options_.dir; }

  // Files taken (handed to the sink and removed) and files refused
  // (invalid, or not from an allowed sender; removed too), so far.
  uint64_t taken() const { return taken_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  void Run();
  // One pass over the directory.
  void Drain();
  void Refuse(const std::string& name, absl::string_view why);

  const Options options_;
  Sink sink_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ = false;  // set by Start(), before the thread exists
  std::atomic<uint64_t> taken_{0};
  std::atomic<uint64_t> refused_{0};
  RateLimitedLog refuse_log_{absl::Minutes(1)};
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_DROP_DIR_H_
