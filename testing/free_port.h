// A loopback TCP port for a server a test or benchmark starts itself.
#ifndef RELAYSYNC_TESTING_FREE_PORT_H_
#define RELAYSYNC_TESTING_FREE_PORT_H_

namespace relaysync::testing {

// A port on 127.0.0.1 that was free a moment ago (the kernel's pick for
// port 0), or 0 if none could be had. Another process may take it before
// the caller binds it: callers retry on a bind failure.
int FreeLoopbackPort();

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_FREE_PORT_H_
