// The output of relaysync-agent check-config: one line per check, "ok: ",
// "warn: " or "FAIL: " and what to do, and a last line counting them.
#ifndef RELAYSYNC_AGENT_CHECK_REPORT_H_
#define RELAYSYNC_AGENT_CHECK_REPORT_H_

#include <ostream>

#include "absl/strings/string_view.h"

namespace relaysync {

// Not thread-safe; `out` must outlive it.
class CheckReport {
 public:
  explicit CheckReport(std::ostream& out) : out_(out) {}

  void Ok(absl::string_view text) { out_ << "ok: " << text << "\n"; }
  void Warn(absl::string_view text) {
    ++warnings_;
    out_ << "warn: " << text << "\n";
  }
  void Fail(absl::string_view text) {
    ++failures_;
    out_ << "FAIL: " << text << "\n";
  }
  // Prints the counts; returns the exit status: 1 if a check failed.
  int Finish() {
    out_ << "check-config: " << failures_ << " failed, " << warnings_
         << (warnings_ == 1 ? " warning" : " warnings") << "\n";
    return failures_ > 0 ? 1 : 0;
  }

 private:
  std::ostream& out_;
  int warnings_ = 0;
  int failures_ = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CHECK_REPORT_H_
