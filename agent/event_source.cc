#include "agent/event_source.h"

namespace relaysync {

// Out of line so the vtable has one home.
EventSource::~EventSource() = default;

}  // namespace relaysync
