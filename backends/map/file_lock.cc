#include "backends/map/file_lock.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace relaysync {
namespace {

int WakeSignal() { return SIGRTMIN + 4; }

void NoOp(int) {}

void InstallHandlerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = NoOp;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: flock must return EINTR
    sigaction(WakeSignal(), &sa, nullptr);
  });
}

absl::Status Timeout(const std::string& path, absl::Duration timeout) {
  return absl::DeadlineExceededError(absl::StrCat(
      "relayers.db: ", path, ": still locked by another process after ",
      absl::FormatDuration(timeout)));
}

absl::Status Errno(const std::string& path, const char* what) {
  return absl::UnavailableError(absl::StrCat("relayers.db: ", path, ": ", what,
                                             ": ", std::strerror(errno)));
}

}  // namespace

absl::Status FlockWithTimeout(int fd, bool exclusive, absl::Duration timeout,
                              const std::string& path) {
  const int op = exclusive ? LOCK_EX : LOCK_SH;
  if (flock(fd, op | LOCK_NB) == 0) return absl::OkStatus();
  if (errno != EWOULDBLOCK) return Errno(path, "flock");
  if (timeout <= absl::ZeroDuration()) return Timeout(path, timeout);

  InstallHandlerOnce();
  struct sigevent sev;
  std::memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = WakeSignal();
  sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
    return Errno(path, "timer_create");
  }
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status result;
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result = Timeout(path, timeout);
      break;
    }
    // Re-armed each round so a signal lost between arming and blocking only
    // costs one more short wait.
    struct itimerspec its;
    std::memset(&its, 0, sizeof(its));
    its.it_value = absl::ToTimespec(std::min(left, absl::Milliseconds(100)));
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
      its.it_value.tv_nsec = 1;
    }
    timer_settime(timer, 0, &its, nullptr);
    if (flock(fd, op) == 0) break;
    if (errno != EINTR) {
      result = Errno(path, "flock");
      break;
    }
  }
  timer_delete(timer);
  return result;
}

}  // namespace relaysync
