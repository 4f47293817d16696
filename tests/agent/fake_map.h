// FakeMap: an in-memory relay map (MapWriter) that counts writes and can be
// told to fail them, for the materializer_test.cc and local_recorder_test.cc
// tests.
#ifndef RELAYSYNC_TESTS_AGENT_FAKE_MAP_H_
#define RELAYSYNC_TESTS_AGENT_FAKE_MAP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "backends/map/relayers_db.h"

namespace relaysync {

class FakeMap : public MapWriter {
 public:
  absl::StatusOr<std::vector<MapEntry>> ReadAll() override {
    std::vector<MapEntry> out;
    for (const auto& [k, v] : entries) out.push_back(MapEntry{k, v});
    return out;
  }
  absl::StatusOr<ApplyResult> Apply(const MapBatch& batch) override {
    if (fail) return absl::DeadlineExceededError("locked");
    ++applies;
    ApplyResult r;
    for (const MapBatch::Op& op : batch.ops()) {
      if (op.is_put) {
        entries[op.key] = op.value;
        ++r.written;
      } else if (entries.erase(op.key) == 0) {
        r.missing.push_back(op.key);
      } else {
        ++r.written;
      }
    }
    return r;
  }
  absl::StatusOr<std::vector<MapEntry>> RemoveAtOrBefore(
      int64_t cutoff) override {
    if (fail) return absl::DeadlineExceededError("locked");
    std::vector<MapEntry> removed;
    for (auto it = entries.begin(); it != entries.end();) {
      int64_t ticks;
      if (absl::SimpleAtoi(it->second, &ticks) && ticks <= cutoff) {
        removed.push_back(MapEntry{it->first, it->second});
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    return removed;
  }
  std::map<std::string, std::string> entries;  // key -> value
  int applies = 0;
  bool fail = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_TESTS_AGENT_FAKE_MAP_H_
