// Waiting for something to become true, bounded, for tests and benchmarks.
#ifndef RELAYSYNC_TESTING_WAIT_H_
#define RELAYSYNC_TESTING_WAIT_H_

#include <functional>

#include "absl/time/time.h"

namespace relaysync::testing {

// Polls `condition` every `interval` until it holds (true) or `timeout`
// passes (false). It is always asked at least once.
bool WaitForCondition(const std::function<bool()>& condition,
                      absl::Duration timeout,
                      absl::Duration interval = absl::Milliseconds(10));

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_WAIT_H_
