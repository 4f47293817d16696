#include "agent/send_window.h"

#include <algorithm>

namespace relaysync {

std::vector<const SpooledLogin*> SendWindow::Next(
    const std::vector<SpooledLogin>& pending, size_t limit) {
  std::vector<const SpooledLogin*> out;
  for (const SpooledLogin& p : pending) {
    if (out.size() == limit) break;
    if (p.sequence <= sent_through_ && deferred_.erase(p.event_id) == 0) {
      continue;  // on its way, or acknowledged already
    }
    out.push_back(&p);
    sent_through_ = std::max(sent_through_, p.sequence);
  }
  // What is no longer pending was acknowledged or dropped: forget it. The
  // deferred are among the oldest pending, so `pending` holds them all.
  if (!deferred_.empty()) {
    std::unordered_set<std::string> still;
    for (const SpooledLogin& p : pending) {
      if (deferred_.count(p.event_id)) still.insert(p.event_id);
    }
    deferred_.swap(still);
  }
  return out;
}

void SendWindow::Deferred(const std::vector<std::string>& event_ids) {
  deferred_.insert(event_ids.begin(), event_ids.end());
}

}  // namespace relaysync
