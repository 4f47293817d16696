// Real systemd journal files for tests: entries written by
// systemd-journal-remote from journald's export format, so that a test sets
// the fields journald would have set itself (_SYSTEMD_UNIT, _EXE, _COMM)
// and needs no journald running.
#ifndef RELAYSYNC_TESTING_JOURNAL_FILES_H_
#define RELAYSYNC_TESTING_JOURNAL_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace relaysync::testing {

// Debian's systemd-journal-remote (scripts/install-deps.sh).
inline constexpr char kJournalRemote[] = "/lib/systemd/systemd-journal-remote";

// One journal entry; an empty field is left out.
struct JournalEntry {
  std::string message;
  absl::Time time;  // __REALTIME_TIMESTAMP (and the monotonic one)
  std::string identifier = "dovecot";     // SYSLOG_IDENTIFIER
  std::string unit = "dovecot.service";   // _SYSTEMD_UNIT
  std::string comm = "dovecot";           // _COMM
  std::string exe = "/usr/sbin/dovecot";  // _EXE
};

// Appends `entries` to the journal file `path` (its name ends in
// ".journal"), creating it if missing. Errors carry the tool's output.
absl::Status AppendJournalEntries(const std::string& path,
                                  const std::vector<JournalEntry>& entries);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_JOURNAL_FILES_H_
