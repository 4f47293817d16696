// Signals for daemons: SIGINT/SIGTERM (and SIGHUP when asked for) are
// blocked in every thread and delivered to one waiter, so no handler runs
// inside library code.
#ifndef RELAYSYNC_COMMON_SIGNALS_H_
#define RELAYSYNC_COMMON_SIGNALS_H_

#include <functional>
#include <thread>

namespace relaysync {

// Call in main() before any thread is started. Returns a thread that calls
// `on_stop` once when SIGINT or SIGTERM arrives, and `on_hangup` (when
// given) for every SIGHUP before that; detach it or join it after on_stop
// has made the program finish.
std::thread HandleStopSignals(std::function<void(int signal)> on_stop,
                              std::function<void()> on_hangup = nullptr);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_SIGNALS_H_
