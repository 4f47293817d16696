// Fuzz target: the agent's two small state files, read at start-up:
// agent.state (agent/agent_state.h) and the log tailer's position file
// (agent/tail_state.h). The first byte picks which; the rest is the file,
// written in a scratch directory. Asserts that whatever loads saves (or is
// refused by Save with InvalidArgument, for a control character) and loads
// back equal, and that a loaded position is never negative or pathless.
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

#include "agent/agent_state.h"
#include "agent/tail_state.h"
#include "fuzz/fuzz_util.h"

namespace relaysync {
namespace {

bool operator==(const TailState& a, const TailState& b) {
  return a.log_path == b.log_path && a.device == b.device &&
         a.inode == b.inode && a.offset == b.offset && a.skip == b.skip &&
         a.head_bytes == b.head_bytes && a.head_crc == b.head_crc;
}

void AgentStateRoundTrip(absl::string_view text) {
  const std::string dir = fuzz::ScratchDir();
  AgentStateFile file(dir);
  fuzz::WriteWholeFile(file.path(), text);
  absl::StatusOr<AgentState> state = file.Load();
  if (!state.ok()) {
    FUZZ_CHECK(
        state.status().code() == absl::StatusCode::kDataLoss ||
            state.status().code() == absl::StatusCode::kFailedPrecondition,
        state.status().ToString());
    return;
  }
  absl::Status saved = file.Save(*state);
  if (!saved.ok()) {
    FUZZ_CHECK(saved.code() == absl::StatusCode::kInvalidArgument,
               saved.ToString());
    return;
  }
  absl::StatusOr<AgentState> again = file.Load();
  FUZZ_CHECK(again.ok() && *again == *state, fuzz::ReadWholeFile(file.path()));
}

void TailStateRoundTrip(absl::string_view text) {
  const std::string path = fuzz::ScratchDir() + "/tail.state";
  fuzz::WriteWholeFile(path, text);
  absl::StatusOr<std::optional<TailState>> state = LoadTailState(path);
  if (!state.ok()) {
    FUZZ_CHECK(
        state.status().code() == absl::StatusCode::kDataLoss ||
            state.status().code() == absl::StatusCode::kFailedPrecondition,
        state.status().ToString());
    return;
  }
  FUZZ_CHECK(state->has_value(), "an existing file loaded as missing");
  const TailState& s = **state;
  FUZZ_CHECK(s.offset >= 0 && !s.log_path.empty(), text);
  FUZZ_CHECK(SaveTailState(path, s).ok(), text);
  absl::StatusOr<std::optional<TailState>> again = LoadTailState(path);
  FUZZ_CHECK(again.ok() && again->has_value() && **again == s,
             fuzz::ReadWholeFile(path));
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text = relaysync::fuzz::AsText(data + 1, size - 1);
  if (data[0] & 1) {
    relaysync::TailStateRoundTrip(text);
  } else {
    relaysync::AgentStateRoundTrip(text);
  }
  return 0;
}
