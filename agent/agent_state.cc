#include "agent/agent_state.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/atomic_file.h"

namespace relaysync {
namespace {

constexpr absl::string_view kHeader = "relaysync-agent-state v1";

}  // namespace

AgentStateFile::AgentStateFile(const std::string& dir)
    : path_(dir + "/" + kFileName) {}

absl::StatusOr<AgentState> AgentStateFile::Load() const {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::optional<std::string>> text = ReadSmallFile(path_);
  if (!text.ok()) return text.status();
  AgentState state;
  if (!text->has_value()) return state;
  std::vector<absl::string_view> lines = absl::StrSplit(**text, '\n');
  bool ok = !lines.empty() && lines[0] == kHeader;
  bool have_epoch = false, have_version = false;
  for (size_t i = 1; ok && i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 1));
    if (kv.first == "store_epoch") {
      state.store_epoch = std::string(kv.second);
      have_epoch = true;
    } else if (kv.first == "applied_version") {
      ok = absl::SimpleAtoi(kv.second, &state.applied_version);
      have_version = true;
    }
  }
  if (!ok || !have_epoch || !have_version) {
    return absl::DataLossError(
        absl::StrCat("agent state ", path_, ": unreadable"));
  }
  return state;
}

absl::Status AgentStateFile::Save(const AgentState& state) {
  if (std::any_of(
          state.store_epoch.begin(), state.store_epoch.end(),
          [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "agent state ", path_, ": store epoch contains a control character"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return WriteFileAtomically(
      path_, absl::StrCat(kHeader, "\nstore_epoch ", state.store_epoch,
                          "\napplied_version ", state.applied_version, "\n"));
}

}  // namespace relaysync
