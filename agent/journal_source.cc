#include "agent/journal_source.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

// The systemd units of the Debian packages of each format's daemons.
struct DefaultUnit {
  absl::string_view format;
  absl::string_view unit;
};
constexpr DefaultUnit kDefaultUnits[] = {
    {"dovecot", "dovecot.service"},
    {"courier", "courier-imap.service"},
    {"courier", "courier-imap-ssl.service"},
    {"courier", "courier-pop.service"},
    {"courier", "courier-pop-ssl.service"},
    {"cyrus", "cyrus-imapd.service"},
};

bool IsUnitName(absl::string_view unit) {
  if (unit.empty() || unit.size() > 256 || unit[0] == '.' ||
      unit.find('.') == absl::string_view::npos) {
    return false;
  }
  return std::all_of(unit.begin(), unit.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == ':' ||
           c == '_' || c == '.' || c == '\\' || c == '@' || c == '-';
  });
}

std::string ErrnoText(int r) { return strerror(r < 0 ? -r : r); }

bool Contains(const std::vector<std::string>& values, absl::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

std::vector<std::string> JournalSource::DefaultUnits(
    const std::vector<const LogFormat*>& formats) {
  std::vector<std::string> units;
  for (const LogFormat* f : formats) {
    for (const DefaultUnit& d : kDefaultUnits) {
      if (d.format == f->name && !Contains(units, d.unit)) {
        units.emplace_back(d.unit);
      }
    }
  }
  return units;
}

absl::Status JournalSource::Validate(const Options& options) {
  if (options.units.empty() && options.executables.empty()) {
    return absl::InvalidArgumentError(
        "journal: no unit or executable to trust (--journal-unit, "
        "--journal-exe)");
  }
  for (const std::string& unit : options.units) {
    if (!IsUnitName(unit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("journal: \"", absl::CHexEscape(unit),
                       "\" is not a systemd unit name (e.g. dovecot.service)"));
    }
  }
  for (const std::string& exe : options.executables) {
    if (!absl::StartsWith(exe, "/") || HasControlChars(exe)) {
      return absl::InvalidArgumentError(
          absl::StrCat("journal: \"", absl::CHexEscape(exe),
                       "\" is not an absolute path of an executable"));
    }
  }
  return absl::OkStatus();
}

JournalSource::JournalSource(Options options)
    : options_(std::move(options)),
      name_("journal:" +
            (options_.directory.empty() ? "system" : options_.directory)),
      journal_id_(options_.directory.empty() ? "system" : options_.directory) {}

JournalSource::~JournalSource() { Stop(); }

std::string JournalSource::Name() const { return name_; }

absl::Status JournalSource::Start(Sink sink) {
  absl::Status valid = Validate(options_);
  if (!valid.ok()) return valid;
  absl::MutexLock l(&mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError(name_ + ": started twice");
  }
  started_ = true;
  sink_ = std::move(sink);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat(name_, ": eventfd: ", strerror(errno)));
  }
  thread_ = std::thread([this] {
    NameThisThread("journal");
    Run();
  });
  mu_.Await(absl::Condition(&opening_.done));
  if (!opening_.status.ok()) {
    thread_.join();  // it has returned, or is about to
    return opening_.status;
  }
  return absl::OkStatus();
}

void JournalSource::Stop() {
  std::thread thread;
  {
    absl::MutexLock l(&mu_);
    if (stopped_) return;
    stopped_ = true;
    thread = std::move(thread_);
  }
  stop_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    // Failure (the counter full) still leaves it readable: the poll wakes.
    if (write(wake_fd_, &one, sizeof(one)) < 0 && errno != EAGAIN) {
      LogWarning(name_, ": waking the reader: ", strerror(errno));
    }
  }
  if (thread.joinable()) thread.join();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void JournalSource::Run() {
  absl::Status s = Open();
  if (s.ok()) Position();
  {
    absl::MutexLock l(&mu_);
    opening_.status = s;
    opening_.done = true;
  }
  if (s.ok()) {
    last_checkpoint_ = std::chrono::steady_clock::now();
    auto last_progress = last_checkpoint_;  // an entry read, or a re-seek
    bool more = true;  // a saved cursor may have entries after it already
    while (!stop_.load()) {
      if (!more) WaitForEvents();
      if (stop_.load()) break;
      auto now = std::chrono::steady_clock::now();
      if (Round(&more) > 0) {
        last_progress = now;
      } else if (now - last_progress >=
                 absl::ToChronoMilliseconds(options_.reseek_interval)) {
        Reseek();
        last_progress = now;
        more = true;  // read what the seek has uncovered at once
      }
    }
    Checkpoint(/*force=*/true);
  }
  if (journal_ != nullptr) sd_journal_close(journal_);
  journal_ = nullptr;
}

absl::Status JournalSource::Open() {
  int r =
      options_.directory.empty()
          ? sd_journal_open(&journal_,
                            SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM)
          : sd_journal_open_directory(&journal_, options_.directory.c_str(), 0);
  if (r < 0) {
    journal_ = nullptr;
    return absl::UnavailableError(
        absl::StrCat(name_, ": cannot open the journal: ", ErrnoText(r)));
  }
  // Before positioning: the inotify watches must exist before the entries
  // we have not read yet could be written.
  journal_fd_ = sd_journal_get_fd(journal_);
  if (journal_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat(
        name_, ": cannot watch the journal: ", ErrnoText(journal_fd_)));
  }
  return AddMatches();
}

absl::Status JournalSource::AddMatches() {
  // Values of one field are ORed by sd_journal; the disjunction ORs the
  // units with the executables.
  auto add = [this](const std::string& match) {
    int r = sd_journal_add_match(journal_, match.data(), match.size());
    if (r < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_, ": journal match \"", match, "\": ", ErrnoText(r)));
    }
    return absl::OkStatus();
  };
  for (const std::string& unit : options_.units) {
    absl::Status s = add("_SYSTEMD_UNIT=" + unit);
    if (!s.ok()) return s;
  }
  if (!options_.units.empty() && !options_.executables.empty()) {
    int r = sd_journal_add_disjunction(journal_);
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat(name_, ": journal match: ", ErrnoText(r)));
    }
  }
  for (const std::string& exe : options_.executables) {
    absl::Status s = add("_EXE=" + exe);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void JournalSource::Position() {
  std::optional<JournalState> state;
  if (!options_.state_path.empty()) {
    absl::StatusOr<std::optional<JournalState>> loaded =
        LoadJournalState(options_.state_path);
    if (!loaded.ok()) {
      LogWarning(loaded.status().message(),
                 "; starting at the end of the journal");
    } else {
      state = std::move(*loaded);
    }
  }
  if (state && state->journal != journal_id_) {
    LogInfo(options_.state_path, " is the position in journal ", state->journal,
            ", not ", journal_id_, ": starting at the end of the journal");
    state.reset();
  }
  if (!state || !SeekSaved(*state)) StartAtTail();
}

bool JournalSource::SeekSaved(const JournalState& state) {
  saved_ = state.cursor;
  have_saved_ = true;
  if (state.cursor.empty()) {
    // The journal had no entry of ours: everything in it now is new.
    int r = sd_journal_seek_head(journal_);
    if (r < 0) {
      LogWarning(name_, ": seeking the head: ", ErrnoText(r));
      return false;
    }
    committed_.clear();
    return true;
  }
  absl::StatusOr<bool> found = SeekCursor(state.cursor);
  if (!found.ok()) {
    LogWarning(name_, ": the saved cursor in ", options_.state_path, ": ",
               found.status().message(),
               "; starting at the end of the journal");
    return false;
  }
  committed_ = state.cursor;
  return true;
}

absl::StatusOr<bool> JournalSource::SeekCursor(const std::string& cursor) {
  unread_current_ = false;
  int r = sd_journal_seek_cursor(journal_, cursor.c_str());
  if (r < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("seeking the cursor: ", ErrnoText(r)));
  }
  r = sd_journal_next(journal_);
  if (r < 0) {
    return absl::UnavailableError(
        absl::StrCat("reading after the cursor: ", ErrnoText(r)));
  }
  if (r > 0 && sd_journal_test_cursor(journal_, cursor.c_str()) > 0) {
    return true;  // on the last delivered entry; the next one is new
  }
  // The seek landed on the first entry after the cursor's place, or on
  // nothing yet: the entry itself is gone (or no longer matches).
  unread_current_ = r > 0;
  uint64_t usec = 0;
  std::string next = "no later entry yet";
  if (r > 0 && sd_journal_get_realtime_usec(journal_, &usec) >= 0) {
    next = absl::StrCat(
        "next entry of ",
        absl::FormatTime(absl::RFC3339_sec,
                         absl::FromUnixMicros(static_cast<int64_t>(usec)),
                         absl::UTCTimeZone()));
  }
  trouble_log_.Log(
      LogLevel::kWarning,
      absl::StrCat(name_,
                   ": the last entry read is no longer in the journal "
                   "(rotated away and vacuumed, or no longer of a watched "
                   "unit); resuming at the first entry after it (",
                   next,
                   "): logins in entries removed before they were read are "
                   "lost"));
  return false;
}

void JournalSource::Reseek() {
  if (committed_.empty()) {
    // No entry of ours read yet: all of them are new.
    unread_current_ = false;
    int r = sd_journal_seek_head(journal_);
    if (r < 0) {
      trouble_log_.Log(
          LogLevel::kWarning,
          absl::StrCat(name_, ": seeking the head: ", ErrnoText(r)));
    }
    return;
  }
  absl::StatusOr<bool> found = SeekCursor(committed_);
  if (!found.ok()) {
    trouble_log_.Log(LogLevel::kWarning,
                     absl::StrCat(name_, ": ", found.status().message()));
  }
}

void JournalSource::StartAtTail() {
  committed_.clear();
  int r = sd_journal_seek_tail(journal_);
  if (r >= 0) r = sd_journal_previous(journal_);
  if (r > 0) {
    committed_ = CurrentCursor();
  } else {
    // No entry of ours at all: whatever comes is new, from the head.
    if (r < 0) LogWarning(name_, ": seeking the end: ", ErrnoText(r));
    r = sd_journal_seek_head(journal_);
    if (r < 0) LogWarning(name_, ": seeking the head: ", ErrnoText(r));
  }
  // Saved at once: logins written while the agent is down are read at the
  // next start instead of being skipped as "history".
  have_saved_ = false;
  Checkpoint(/*force=*/true);
}

void JournalSource::WaitForEvents() {
  struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {journal_fd_, POLLIN, 0}};
  int timeout_ms =
      static_cast<int>(absl::ToInt64Milliseconds(options_.poll_interval));
  if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
    trouble_log_.Log(LogLevel::kWarning,
                     absl::StrCat(name_, ": poll: ", strerror(errno)));
    absl::SleepFor(options_.poll_interval);  // do not spin
  }
  // Takes in new and removed journal files; the entries themselves are
  // found by sd_journal_next whatever it returns.
  int r = sd_journal_process(journal_);
  if (r < 0) {
    trouble_log_.Log(
        LogLevel::kWarning,
        absl::StrCat(name_, ": watching the journal: ", ErrnoText(r)));
  }
}

size_t JournalSource::Round(bool* more) {
  *more = false;
  std::vector<LocalLogin> logins;
  size_t entries = 0;
  auto deliver = [&] {
    if (!logins.empty()) {
      // A spool failure is the agent's to log; the logins are applied
      // locally anyway.
      sink_(logins).IgnoreError();
      logins.clear();
    }
    committed_ = CurrentCursor();
    Checkpoint(/*force=*/false);
  };
  while (!stop_.load()) {
    if (entries == options_.max_entries_per_round) {
      *more = true;
      break;
    }
    int r = 1;
    if (unread_current_) {
      unread_current_ = false;
    } else {
      r = sd_journal_next(journal_);
    }
    if (r < 0) {
      trouble_log_.Log(LogLevel::kWarning,
                       absl::StrCat(name_, ": reading: ", ErrnoText(r)));
      break;
    }
    if (r == 0) break;
    ++entries;
    ++entries_since_checkpoint_;
    ReadEntry(&logins);
    if (logins.size() >= options_.max_batch) deliver();
  }
  if (entries > 0) deliver();
  return entries;
}

void JournalSource::ReadEntry(std::vector<LocalLogin>* logins) {
  // The matches have chosen the entry already; checked again here so that
  // a match that libsystemd did not apply cannot grant relaying.
  if (!Trusted()) return;
  auto field = [this](const char* name, absl::string_view* value) {
    const void* data = nullptr;
    size_t len = 0;
    if (sd_journal_get_data(journal_, name, &data, &len) < 0) return false;
    *value = absl::string_view(static_cast<const char*>(data), len);
    return absl::ConsumePrefix(value, name) && absl::ConsumePrefix(value, "=");
  };
  absl::string_view message, program;
  if (!field("MESSAGE", &message)) return;
  if (!field("SYSLOG_IDENTIFIER", &program) && !field("_COMM", &program)) {
    return;
  }
  LoginVerdict v;
  const LogFormat* format = nullptr;
  for (const LogFormat* f : options_.formats) {
    v = f->classify(program, message);
    format = f;
    if (v.kind != LoginVerdict::Kind::kNotALogin) break;
  }
  const bool end = v.kind == LoginVerdict::Kind::kSessionEnd;
  if (v.kind != LoginVerdict::Kind::kLogin && !end) return;
  if (options_.sessions != nullptr) {
    absl::string_view pid;
    if (!field("_PID", &pid)) pid = {};
    CompleteSessionKey(*format, pid, &v);
    if (end) {
      if (v.kind == LoginVerdict::Kind::kSessionEnd) {
        options_.sessions->End(name_, v.session, v.login.user);
      }
      return;
    }
  }
  if (v.kind != LoginVerdict::Kind::kLogin) return;
  // The rules a login line of a file obeys (agent/log_format.h).
  if (message.size() > kMaxLoginLineBytes) {
    Refused(absl::StrCat("message over ", kMaxLoginLineBytes, " bytes"),
            message);
    return;
  }
  if (HasControlChars(message)) {
    Refused("control character in the message", message);
    return;
  }
  LocalLogin login = std::move(v.login);
  uint64_t usec = 0;
  absl::Time now = options_.clock->Now();
  absl::Time when = now;
  if (sd_journal_get_realtime_usec(journal_, &usec) >= 0) {
    when = std::min(now, absl::FromUnixMicros(static_cast<int64_t>(usec)));
  }
  login.login_time = absl::ToUnixSeconds(when);
  login.source = name_;
  // Its first refresh is an interval away: the login goes first in any case.
  if (options_.sessions != nullptr) {
    options_.sessions->Begin(name_, v.session, login);
  }
  logins->push_back(std::move(login));
}

bool JournalSource::Trusted() {
  auto is = [this](const char* name, const std::vector<std::string>& values) {
    const void* data = nullptr;
    size_t len = 0;
    if (values.empty() ||
        sd_journal_get_data(journal_, name, &data, &len) < 0) {
      return false;
    }
    absl::string_view v(static_cast<const char*>(data), len);
    return absl::ConsumePrefix(&v, name) && absl::ConsumePrefix(&v, "=") &&
           Contains(values, v);
  };
  return is("_SYSTEMD_UNIT", options_.units) ||
         is("_EXE", options_.executables);
}

std::string JournalSource::CurrentCursor() {
  char* cursor = nullptr;
  int r = sd_journal_get_cursor(journal_, &cursor);
  if (r < 0) return committed_;  // not on an entry: keep the last one
  std::string out(cursor);
  free(cursor);
  return out;
}

void JournalSource::Checkpoint(bool force) {
  if (options_.state_path.empty()) return;
  if (have_saved_ && committed_ == saved_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && entries_since_checkpoint_ < options_.checkpoint_entries &&
      now - last_checkpoint_ <
          absl::ToChronoMilliseconds(options_.checkpoint_interval)) {
    return;
  }
  absl::Status s =
      SaveJournalState(options_.state_path, {journal_id_, committed_});
  if (!s.ok()) {
    trouble_log_.Log(
        LogLevel::kWarning,
        absl::StrCat(name_, ": saving the position: ", s.message()));
    return;
  }
  saved_ = committed_;
  have_saved_ = true;
  entries_since_checkpoint_ = 0;
  last_checkpoint_ = now;
}

void JournalSource::Refused(absl::string_view why, absl::string_view message) {
  uint64_t count = ++refused_logins_;
  refused_log_.Log(
      LogLevel::kWarning,
      absl::StrCat(name_, ": ignored a login message (", why, "): \"",
                   absl::CHexEscape(message.substr(0, 200)), "\" (", count,
                   " ignored so far)"));
}

}  // namespace relaysync
