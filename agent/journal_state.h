// The JournalSource's position file: which journal it follows and the cursor
// of the last entry it delivered, so a restart neither loses nor re-counts
// logins (the journal's counterpart of tail_state.h).
#ifndef RELAYSYNC_AGENT_JOURNAL_STATE_H_
#define RELAYSYNC_AGENT_JOURNAL_STATE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace relaysync {

struct JournalState {
  // The journal this state belongs to ("system", or the directory given
  // with --journal-directory): a state left over from another journal is
  // not applied to this one.
  std::string journal;
  // The sd_journal cursor of the last delivered entry. Empty: the journal
  // held no entry of the watched units when the source first started, so
  // everything in it is new: read it from its head.
  std::string cursor;
};

// nullopt if the file does not exist. An unreadable or damaged file is an
// error naming its path.
absl::StatusOr<std::optional<JournalState>> LoadJournalState(
    const std::string& state_path);
// Atomic replace (temp + fsync + rename). Fails for a journal name or
// cursor that is empty where it must not be, or holds a newline.
absl::Status SaveJournalState(const std::string& state_path,
                              const JournalState& state);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_JOURNAL_STATE_H_
