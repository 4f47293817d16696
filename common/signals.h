// Graceful stop for daemons: SIGINT/SIGTERM are blocked in every thread and
// delivered to one waiter, so no handler runs inside library code.
#ifndef RELAYSYNC_COMMON_SIGNALS_H_
#define RELAYSYNC_COMMON_SIGNALS_H_

#include <functional>
#include <thread>

namespace relaysync {

// Call in main() before any thread is started. Returns a thread that calls
// `on_stop` once when SIGINT or SIGTERM arrives; detach it or join it after
// on_stop has made the program finish.
std::thread HandleStopSignals(std::function<void(int signal)> on_stop);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_SIGNALS_H_
