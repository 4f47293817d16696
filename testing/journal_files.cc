#include "testing/journal_files.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "testing/process.h"

namespace relaysync::testing {
namespace {

// One boot for every entry, so that entries of different files compare by
// their monotonic time, which is their real time here.
constexpr char kBootId[] = "5eb1a7c0ffee4b6e9b0d0d0a11ce0001";

// "NAME=value\n", or the binary form for a value holding a newline.
void AppendField(std::string* out, const std::string& name,
                 const std::string& value) {
  if (value.empty()) return;
  if (value.find('\n') == std::string::npos) {
    absl::StrAppend(out, name, "=", value, "\n");
    return;
  }
  absl::StrAppend(out, name, "\n");
  uint64_t size = value.size();
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>(size >> (8 * i)));
  absl::StrAppend(out, value, "\n");
}

}  // namespace

absl::Status AppendJournalEntries(const std::string& path,
                                  const std::vector<JournalEntry>& entries) {
  std::string input;
  for (const JournalEntry& e : entries) {
    const int64_t usec = absl::ToUnixMicros(e.time);
    absl::StrAppend(&input, "__REALTIME_TIMESTAMP=", usec,
                    "\n__MONOTONIC_TIMESTAMP=", usec, "\n_BOOT_ID=", kBootId,
                    "\n");
    AppendField(&input, "MESSAGE", e.message);
    AppendField(&input, "SYSLOG_IDENTIFIER", e.identifier);
    AppendField(&input, "_SYSTEMD_UNIT", e.unit);
    AppendField(&input, "_COMM", e.comm);
    AppendField(&input, "_EXE", e.exe);
    input += "\n";
  }
  CommandResult r =
      RunShell(absl::StrCat(kJournalRemote, " -o '", path, "' - 2>&1"), input);
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        kJournalRemote, " -o ", path, ": exit ", r.exit_code, ": ", r.output));
  }
  return absl::OkStatus();
}

}  // namespace relaysync::testing
