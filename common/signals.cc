#include "common/signals.h"

#include <signal.h>

#include <utility>

#include "common/thread_name.h"

namespace relaysync {

std::thread HandleStopSignals(std::function<void(int signal)> on_stop,
                              std::function<void()> on_hangup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (on_hangup) sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return std::thread(
      [set, on_stop = std::move(on_stop), on_hangup = std::move(on_hangup)] {
        NameThisThread("signals");
        int sig = 0;
        while (sigwait(&set, &sig) == 0) {
          if (sig != SIGHUP) {
            on_stop(sig);
            return;
          }
          on_hangup();
        }
      });
}

}  // namespace relaysync
