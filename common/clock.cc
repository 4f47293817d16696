#include "common/clock.h"

namespace relaysync {

const Clock* SystemClock::Get() {
  static const SystemClock* const clock = new SystemClock;
  return clock;
}

}  // namespace relaysync
