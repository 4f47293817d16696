#include "agent/journal_state.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/atomic_file.h"

namespace relaysync {
namespace {

constexpr absl::string_view kHeader = "relaysync-journal v1";
// Written for an empty cursor ("read from the head"), which a real cursor
// ("s=...;i=...") never is.
constexpr absl::string_view kHead = "-";

}  // namespace

absl::StatusOr<std::optional<JournalState>> LoadJournalState(
    const std::string& state_path) {
  absl::StatusOr<std::optional<std::string>> text = ReadSmallFile(state_path);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<JournalState>();
  std::vector<absl::string_view> lines = absl::StrSplit(**text, '\n');
  JournalState state;
  bool have_cursor = false;
  bool ok = !lines.empty() && lines[0] == kHeader;
  for (size_t i = 1; ok && i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 1));
    if (kv.first == "journal") {
      state.journal = std::string(kv.second);
    } else if (kv.first == "cursor") {
      have_cursor = !kv.second.empty();
      if (kv.second != kHead) state.cursor = std::string(kv.second);
    }
  }
  if (!ok || !have_cursor || state.journal.empty()) {
    return absl::DataLossError(
        absl::StrCat("journal position file ", state_path, ": unreadable"));
  }
  return std::optional<JournalState>(std::move(state));
}

absl::Status SaveJournalState(const std::string& state_path,
                              const JournalState& state) {
  auto bad = [](absl::string_view s) {
    return s.empty() || s.find('\n') != absl::string_view::npos;
  };
  if (bad(state.journal) || (!state.cursor.empty() && bad(state.cursor))) {
    return absl::InvalidArgumentError(
        absl::StrCat("journal position file ", state_path,
                     ": empty journal name, or a newline in it or the cursor"));
  }
  return WriteFileAtomically(
      state_path,
      absl::StrCat(kHeader, "\njournal ", state.journal, "\ncursor ",
                   state.cursor.empty() ? kHead : state.cursor, "\n"));
}

}  // namespace relaysync
