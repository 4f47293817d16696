#include "agent/agent_state.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/atomic_file.h"

namespace relaysync {
namespace {

constexpr absl::string_view kHeader = "relaysync-agent-state v1";

}  // namespace

std::string CurrentBootId() {
  absl::StatusOr<std::optional<std::string>> text =
      ReadSmallFile("/proc/sys/kernel/random/boot_id");
  if (!text.ok() || !text->has_value()) return "";
  return std::string(absl::StripAsciiWhitespace(**text));
}

AgentStateFile::AgentStateFile(const std::string& dir)
    : path_(dir + "/" + kFileName) {}

absl::StatusOr<AgentState> AgentStateFile::Load() const {
  absl::MutexLock lock(&mu_);
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
    } else if (kv.first == "boot_id") {
      state.boot_id = std::string(kv.second);
    } else if (kv.first == "expire_after_seconds") {
      int64_t seconds = 0;
      ok = absl::SimpleAtoi(kv.second, &seconds);
      state.expire_after_seconds = seconds;
    }
  }
  if (!ok || !have_epoch || !have_version) {
    return absl::DataLossError(
        absl::StrCat("agent state ", path_, ": unreadable"));
  }
  return state;
}

absl::Status AgentStateFile::Save(const AgentState& state) {
  auto has_control = [](const std::string& text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20;
    });
  };
  if (has_control(state.store_epoch) || has_control(state.boot_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent state ", path_,
                     ": store epoch or boot id contains a control character"));
  }
  absl::MutexLock lock(&mu_);
  std::string text =
      absl::StrCat(kHeader, "\nstore_epoch ", state.store_epoch,
                   "\napplied_version ", state.applied_version, "\n");
  if (!state.boot_id.empty())
    absl::StrAppend(&text, "boot_id ", state.boot_id, "\n");
  // Older agents skip keys they do not know, so the format stays v1.
  if (state.expire_after_seconds.has_value()) {
    absl::StrAppend(&text, "expire_after_seconds ", *state.expire_after_seconds,
                    "\n");
  }
  return WriteFileAtomically(path_, text);
}

AppliedState::AppliedState(AgentStateFile* file, AgentState state,
                           absl::Duration save_interval)
    : file_(file), save_interval_(save_interval), state_(std::move(state)) {}

void AppliedState::Record(const std::string& epoch, uint64_t version) {
  absl::MutexLock l(&mu_);
  state_.store_epoch = epoch;
  state_.applied_version = version;
  dirty_ = true;
}

bool AppliedState::SetPolicy(int64_t expire_after_seconds) {
  absl::MutexLock l(&mu_);
  if (state_.expire_after_seconds == expire_after_seconds) return false;
  state_.expire_after_seconds = expire_after_seconds;
  dirty_ = true;
  return true;
}

AgentState AppliedState::Snapshot() const {
  absl::MutexLock l(&mu_);
  return state_;
}

uint64_t AppliedState::applied_version() const {
  absl::MutexLock l(&mu_);
  return state_.applied_version;
}

absl::Status AppliedState::MaybeSave() { return SaveIf(/*force=*/false); }

absl::Status AppliedState::Save() { return SaveIf(/*force=*/true); }

absl::Status AppliedState::SaveIf(bool force) {
  absl::MutexLock s(&save_mu_);
  AgentState copy;
  {
    absl::MutexLock l(&mu_);
    if (!dirty_) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (!force && now - last_save_ < save_interval_) return absl::OkStatus();
    last_save_ = now;
    dirty_ = false;
    copy = state_;
  }
  return file_->Save(copy);
}

}  // namespace relaysync
