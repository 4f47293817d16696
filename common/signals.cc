#include "common/signals.h"

#include <signal.h>

#include <utility>

namespace relaysync {

std::thread HandleStopSignals(std::function<void(int signal)> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return std::thread([set, on_stop = std::move(on_stop)] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) on_stop(sig);
  });
}

}  // namespace relaysync
