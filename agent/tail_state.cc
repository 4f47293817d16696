#include "agent/tail_state.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/atomic_file.h"

namespace relaysync {
namespace {

constexpr absl::string_view kHeader = "relaysync-log-tailer v1";

}  // namespace

absl::StatusOr<std::optional<TailState>> LoadTailState(
    const std::string& state_path) {
  absl::StatusOr<std::optional<std::string>> text = ReadSmallFile(state_path);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<TailState>();
  std::vector<absl::string_view> lines = absl::StrSplit(**text, '\n');
  TailState state;
  state.offset = -1;
  bool ok = !lines.empty() && lines[0] == kHeader;
  for (size_t i = 1; ok && i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 1));
    if (kv.first == "path") {
      state.log_path = std::string(kv.second);
    } else if (kv.first == "device") {
      ok = absl::SimpleAtoi(kv.second, &state.device);
    } else if (kv.first == "inode") {
      ok = absl::SimpleAtoi(kv.second, &state.inode);
    } else if (kv.first == "offset") {
      ok = absl::SimpleAtoi(kv.second, &state.offset);
    } else if (kv.first == "head") {
      std::pair<absl::string_view, absl::string_view> head =
          absl::StrSplit(kv.second, absl::MaxSplits(' ', 1));
      ok = absl::SimpleAtoi(head.first, &state.head_bytes) &&
           absl::SimpleAtoi(head.second, &state.head_crc);
    } else if (kv.first == "skip") {
      ok = kv.second == "0" || kv.second == "1";
      state.skip = kv.second == "1";
    }
  }
  if (!ok || state.offset < 0 || state.log_path.empty()) {
    return absl::DataLossError(
        absl::StrCat("log position file ", state_path, ": unreadable"));
  }
  return std::optional<TailState>(std::move(state));
}

absl::Status SaveTailState(const std::string& state_path,
                           const TailState& state) {
  if (state.log_path.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log position file ", state_path, ": log path contains a newline"));
  }
  return WriteFileAtomically(
      state_path,
      absl::StrCat(kHeader, "\npath ", state.log_path, "\ndevice ",
                   state.device, "\ninode ", state.inode, "\noffset ",
                   state.offset, "\nskip ", state.skip ? 1 : 0, "\nhead ",
                   state.head_bytes, " ", state.head_crc, "\n"));
}

}  // namespace relaysync
