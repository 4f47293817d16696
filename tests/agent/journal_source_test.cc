#include "agent/journal_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/journal_state.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/journal_files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::AppendJournalEntries;
using ::relaysync::testing::JournalEntry;
using ::relaysync::testing::ScratchDir;

// Collects the logins a source reports, and the size of each batch.
class Collector {
 public:
  EventSource::Sink Sink() {
    return [this](const std::vector<LocalLogin>& batch) {
      std::lock_guard<std::mutex> lock(mu_);
      logins_.insert(logins_.end(), batch.begin(), batch.end());
      batches_.push_back(batch.size());
      cv_.notify_all();
      return absl::OkStatus();
    };
  }
  // The logins once there are at least `n` (or what arrived in 10 s).
  std::vector<LocalLogin> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10),
                 [&] { return logins_.size() >= n; });
    return logins_;
  }
  // The addresses once there are at least `n`, after a further `settle`
  // in which nothing more is expected.
  std::vector<std::string> Addresses(
      size_t n, absl::Duration settle = absl::Milliseconds(600)) {
    WaitFor(n);
    absl::SleepFor(settle);
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const LocalLogin& login : logins_) out.push_back(login.address);
    return out;
  }
  std::vector<size_t> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LocalLogin> logins_;
  std::vector<size_t> batches_;
};

const absl::Time kStart = absl::FromUnixSeconds(1764600000);  // 2025-12-01

// Dovecot's syslog message for a login from `ip`, as journald stores it.
std::string DovecotLogin(const std::string& ip,
                         const std::string& user = "alice") {
  return absl::StrCat("imap-login: Login: user=<", user,
                      ">, method=PLAIN, rip=", ip,
                      ", lip=192.0.2.1, mpid=4242, TLS, session=<x>");
}

JournalEntry Login(const std::string& ip, absl::Time time) {
  JournalEntry e;
  e.message = DovecotLogin(ip);
  e.time = time;
  return e;
}

class JournalSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(::relaysync::testing::kJournalRemote, X_OK), 0)
        << ::relaysync::testing::kJournalRemote
        << " is missing: scripts/install-deps.sh installs "
           "systemd-journal-remote";
    ASSERT_EQ(mkdir(journal_dir().c_str(), 0700), 0);
  }

  std::string journal_dir() const { return dir_.File("journal"); }
  std::string journal_file(const std::string& name = "mail") const {
    return absl::StrCat(journal_dir(), "/", name, ".journal");
  }
  void Append(const std::vector<JournalEntry>& entries,
              const std::string& name = "mail") {
    absl::Status s = AppendJournalEntries(journal_file(name), entries);
    ASSERT_TRUE(s.ok()) << s;
  }
  JournalSource::Options Options() const {
    JournalSource::Options o;
    o.directory = journal_dir();
    o.units = {"dovecot.service"};
    o.state_path = dir_.File("journal.state");
    o.poll_interval = absl::Milliseconds(50);
    o.clock = &clock_;
    return o;
  }

  ScratchDir dir_;
  FakeClock clock_{kStart + absl::Hours(1)};
};

TEST_F(JournalSourceTest, ALoginOfTheWatchedUnitCountsWithTheEntrysTime) {
  Append({Login("192.0.2.9", kStart)});  // before the first start: history
  JournalSource source(Options());
  EXPECT_EQ(source.Name(), "journal:" + journal_dir());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  Append({Login("192.0.2.10", kStart + absl::Seconds(5))});
  std::vector<LocalLogin> logins = collector.WaitFor(1);
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_EQ(logins[0].address, "192.0.2.10");
  EXPECT_EQ(logins[0].user, "alice");
  EXPECT_EQ(logins[0].protocol, LocalLogin::Protocol::kImap);
  EXPECT_EQ(logins[0].login_time, absl::ToUnixSeconds(kStart) + 5);
  EXPECT_EQ(logins[0].source, "journal:" + journal_dir());
}

TEST_F(JournalSourceTest, EntriesAppendedWhileFollowingAreSeenInOrder) {
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());  // an empty directory
  Append({Login("192.0.2.1", kStart)});
  EXPECT_EQ(collector.Addresses(1, absl::ZeroDuration()),
            std::vector<std::string>{"192.0.2.1"});
  Append({Login("192.0.2.2", kStart + absl::Seconds(1)),
          Login("2001:db8::3", kStart + absl::Seconds(2))});
  Append({Login("192.0.2.4", kStart + absl::Seconds(3))}, "other");
  EXPECT_EQ(collector.Addresses(4),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::3",
                                      "192.0.2.4"}));
}

TEST_F(JournalSourceTest, AForgedEntryDoesNotCount) {
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  // `logger -t dovecot` by a user: the right identifier and message, and
  // the unit of the user's session.
  JournalEntry logger = Login("192.0.2.66", kStart);
  logger.unit = "session-7.scope";
  logger.comm = "logger";
  logger.exe = "/usr/bin/logger";
  // A copy of logger named "dovecot", run from a user's service: the
  // right _COMM, too.
  JournalEntry renamed = Login("192.0.2.67", kStart);
  renamed.unit = "user@1000.service";
  renamed.exe = "/home/mallory/dovecot";
  // No unit at all (journald could not tell).
  JournalEntry unknown = Login("192.0.2.68", kStart);
  unknown.unit = "";
  unknown.exe = "";
  Append({logger, renamed, unknown, Login("192.0.2.10", kStart)});
  EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.10"});
}

TEST_F(JournalSourceTest, AnEntryOfATrustedExecutableCounts) {
  JournalSource::Options options = Options();
  options.units.clear();
  options.executables = {"/usr/sbin/in.qpopper"};
  JournalSource source(options);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  JournalEntry inetd = Login("192.0.2.20", kStart);
  inetd.unit = "inetd.service";
  inetd.exe = "/usr/sbin/in.qpopper";
  JournalEntry other = Login("192.0.2.21", kStart);
  other.unit = "inetd.service";
  other.exe = "/usr/sbin/in.telnetd";
  Append({other, inetd});
  EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.20"});
}

TEST_F(JournalSourceTest, OtherFormatsUseTheSyslogIdentifierAsProgram) {
  JournalSource::Options options = Options();
  options.formats = *LogFormatsFromFlag("cyrus");
  options.units = JournalSource::DefaultUnits(options.formats);
  JournalSource source(options);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  JournalEntry e;
  e.time = kStart;
  e.message =
      "login: client.example.org [192.0.2.30] bob plaintext+TLS User logged "
      "in SESSIONID=<mx-4242-1764044738-1-1234567890>";
  e.identifier = "cyrus/imap";
  e.comm = "imapd";
  e.unit = "cyrus-imapd.service";
  e.exe = "/usr/lib/cyrus/bin/imapd";
  JournalEntry dovecot = Login("192.0.2.31", kStart);
  dovecot.unit = "cyrus-imapd.service";  // not a cyrus message
  Append({dovecot, e});
  std::vector<LocalLogin> logins = collector.WaitFor(1);
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_EQ(logins[0].address, "192.0.2.30");
  EXPECT_EQ(logins[0].user, "bob");
}

TEST_F(JournalSourceTest, TooLongOrControlCharacterLoginsAreRefused) {
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  JournalEntry long_user = Login("192.0.2.40", kStart);
  long_user.message =
      DovecotLogin("192.0.2.40", std::string(200, 'u')) + std::string(700, ' ');
  JournalEntry newline = Login("192.0.2.41", kStart);
  newline.message = DovecotLogin("192.0.2.41", "x\nimap-login: Login: x");
  Append({long_user, newline, Login("192.0.2.42", kStart)});
  EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.42"});
  EXPECT_EQ(source.refused_logins(), 2u);
}

TEST_F(JournalSourceTest, ARestartResumesAtTheCursorWithNoLossAndNoRepeat) {
  Append({Login("192.0.2.1", kStart)});
  {
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    Append({Login("192.0.2.2", kStart + absl::Seconds(1)),
            Login("192.0.2.3", kStart + absl::Seconds(2))});
    EXPECT_EQ(collector.Addresses(2, absl::ZeroDuration()),
              (std::vector<std::string>{"192.0.2.2", "192.0.2.3"}));
  }  // stopped: the cursor is saved
  // Written while the agent is down.
  Append({Login("192.0.2.4", kStart + absl::Seconds(3))});
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  Append({Login("192.0.2.5", kStart + absl::Seconds(4))});
  EXPECT_EQ(collector.Addresses(2),
            (std::vector<std::string>{"192.0.2.4", "192.0.2.5"}));
}

TEST_F(JournalSourceTest, LoginsWhileDownAfterAnEmptyFirstStartAreRead) {
  {
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
  }
  absl::StatusOr<std::optional<JournalState>> state =
      LoadJournalState(dir_.File("journal.state"));
  ASSERT_TRUE(state.ok() && state->has_value()) << state.status();
  EXPECT_EQ((*state)->cursor, "");  // from the head
  Append({Login("192.0.2.6", kStart)});
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.6"});
}

TEST_F(JournalSourceTest, AVanishedCursorResumesAfterItsPlace) {
  {
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    Append({Login("192.0.2.1", kStart),
            Login("192.0.2.2", kStart + absl::Seconds(10))},
           "old");
    EXPECT_EQ(collector.Addresses(2, absl::ZeroDuration()).size(), 2u);
  }
  // Rotated away and vacuumed while the agent was down; the new file holds
  // an entry from before the cursor (already read, in the old file's
  // terms) and two after it.
  ASSERT_EQ(unlink(journal_file("old").c_str()), 0);
  Append({Login("192.0.2.3", kStart + absl::Seconds(5)),
          Login("192.0.2.4", kStart + absl::Seconds(20)),
          Login("192.0.2.5", kStart + absl::Seconds(30))},
         "new");
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  EXPECT_EQ(collector.Addresses(2),
            (std::vector<std::string>{"192.0.2.4", "192.0.2.5"}));
  Append({Login("192.0.2.6", kStart + absl::Seconds(40))}, "new");
  EXPECT_EQ(collector.Addresses(3).size(), 3u);
}

TEST_F(JournalSourceTest, AVanishedCursorWithNothingAfterItWaitsForNewEntries) {
  {
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    Append({Login("192.0.2.1", kStart + absl::Seconds(10))}, "old");
    EXPECT_EQ(collector.Addresses(1, absl::ZeroDuration()).size(), 1u);
  }
  ASSERT_EQ(unlink(journal_file("old").c_str()), 0);
  Append({Login("192.0.2.2", kStart)}, "new");  // older than the cursor
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  Append({Login("192.0.2.3", kStart + absl::Seconds(20))}, "new");
  EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.3"});
}

TEST_F(JournalSourceTest, ACursorThatIsNoneOrOfAnotherJournalStartsAtTheEnd) {
  for (JournalState state :
       {JournalState{"elsewhere", ""}, JournalState{"", "not a cursor"}}) {
    if (state.journal.empty()) state.journal = journal_dir();
    ASSERT_TRUE(SaveJournalState(dir_.File("journal.state"), state).ok());
    Append({Login("192.0.2.1", kStart)});  // history
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    Append({Login("192.0.2.2", kStart + absl::Seconds(1))});
    EXPECT_EQ(collector.Addresses(1), std::vector<std::string>{"192.0.2.2"})
        << state.journal << " " << state.cursor;
  }
}

// A login entry opens a session in the tracker; the daemon's end entry
// (matched by the session id, and the user) closes it.
TEST_F(JournalSourceTest, ALoginOpensASessionThatItsEndEntryCloses) {
  SessionTracker::Options t;
  t.refresh = absl::Minutes(1);
  t.clock = &clock_;
  SessionTracker tracker(t);
  JournalSource::Options o = Options();
  o.sessions = &tracker;
  JournalSource source(o);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  JournalEntry login = Login("192.0.2.20", kStart);
  login.message =
      "imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.20, "
      "lip=192.0.2.1, mpid=17224, TLS, session=<Oxv8BqVhfuZ/AAAB>";
  Append({login});
  ASSERT_EQ(collector.WaitFor(1).size(), 1u);
  EXPECT_EQ(tracker.open_sessions(), 1u);
  JournalEntry forged = login;  // another user's end line ends nothing
  forged.message =
      "imap(mallory)<17224><Oxv8BqVhfuZ/AAAB>: Disconnected: Logged out "
      "in=8 out=468";
  JournalEntry end = login;
  end.message =
      "imap(alice)<17224><Oxv8BqVhfuZ/AAAB>: Disconnected: Logged out in=8 "
      "out=468 deleted=0 expunged=0 trashed=0";
  Append({forged});
  absl::SleepFor(absl::Milliseconds(500));  // 10 polls
  EXPECT_EQ(tracker.open_sessions(), 1u);
  Append({end});
  for (int i = 0; i < 100 && tracker.open_sessions() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(tracker.open_sessions(), 0u);
  EXPECT_EQ(collector.WaitFor(1).size(), 1u) << "an end line is no login";
}

TEST_F(JournalSourceTest, AFloodIsDeliveredInBoundedBatches) {
  JournalSource::Options options = Options();
  options.max_batch = 100;
  JournalSource source(options);
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  std::vector<JournalEntry> flood;
  for (int i = 0; i < 1000; ++i) {
    flood.push_back(Login(absl::StrCat("10.0.", i / 256, ".", i % 256),
                          kStart + absl::Milliseconds(i)));
  }
  Append(flood);
  EXPECT_EQ(collector.Addresses(1000, absl::ZeroDuration()).size(), 1000u);
  for (size_t n : collector.batches()) EXPECT_LE(n, 100u);
}

// Sets the entry count of the data object for `field` (e.g.
// "_SYSTEMD_UNIT=dovecot.service") in the journal file at `path`, in place
// as journald's writer would, and returns the old count. Data objects
// start with a 16-byte object header (type 1 is DATA, size at byte 8) and
// hold n_entries at byte 56; the payload follows at 64, or at 72 in the
// compact format.
uint64_t SetDataEntries(const std::string& path, const std::string& field,
                        uint64_t n) {
  const std::string contents = ::relaysync::testing::ReadFile(path);
  const std::string* file = &contents;
  auto le64 = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
      v = v << 8 | static_cast<unsigned char>((*file)[at + i]);
    }
    return v;
  };
  for (size_t p = file->find(field); p != std::string::npos;
       p = file->find(field, p + 1)) {
    for (size_t header : {64u, 72u}) {
      if (p < header) continue;
      size_t start = p - header;
      if ((*file)[start] != 1 || le64(start + 8) != header + field.size()) {
        continue;
      }
      uint64_t old = le64(start + 56);
      char bytes[8];
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
      int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      EXPECT_GE(fd, 0) << path;
      EXPECT_EQ(pwrite(fd, bytes, 8, static_cast<off_t>(start + 56)), 8);
      close(fd);
      return old;
    }
  }
  ADD_FAILURE() << "no data object for " << field << " in " << path;
  return 0;
}

// libsystemd 252 records a file's entry count when it reaches the end and
// then skips the file until that count changes. journald counts an entry
// before it links it into each field's list, so a reader reaching the end
// in between records the new count without seeing the entry, and would see
// it only after the next entry of any unit. The source seeks to its own
// place again when idle (reseek_interval), which reads it.
TEST_F(JournalSourceTest, AnEntryCountedBeforeItWasLinkedIsStillRead) {
  {
    JournalSource source(Options());
    Collector collector;
    ASSERT_TRUE(source.Start(collector.Sink()).ok());
    Append({Login("192.0.2.1", kStart)});
    ASSERT_EQ(collector.WaitFor(1).size(), 1u);
  }  // the cursor of 192.0.2.1 is saved
  const std::string unit = "_SYSTEMD_UNIT=dovecot.service";
  Append({Login("192.0.2.2", kStart + absl::Seconds(1))});
  // As the writer leaves it between counting the entry and linking it.
  ASSERT_EQ(SetDataEntries(journal_file(), unit, 1), 2u);
  JournalSource source(Options());
  Collector collector;
  ASSERT_TRUE(source.Start(collector.Sink()).ok());
  absl::SleepFor(absl::Milliseconds(300));  // 6 polls reach the end
  EXPECT_TRUE(collector.WaitFor(0).empty()) << "the entry is not linked yet";
  ASSERT_EQ(SetDataEntries(journal_file(), unit, 2), 1u);  // the writer ends
  std::vector<LocalLogin> logins = collector.WaitFor(1);
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_EQ(logins[0].address, "192.0.2.2");
}

TEST_F(JournalSourceTest, AMissingDirectoryFailsStartNamingIt) {
  JournalSource::Options options = Options();
  options.directory = dir_.File("nowhere");
  JournalSource source(options);
  Collector collector;
  absl::Status s = source.Start(collector.Sink());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_.File("nowhere")), std::string::npos) << s;
}

TEST(JournalSourceOptionsTest, ValidateNeedsATrustedUnitOrExecutable) {
  JournalSource::Options o;
  EXPECT_FALSE(JournalSource::Validate(o).ok());
  o.units = {"dovecot.service"};
  EXPECT_TRUE(JournalSource::Validate(o).ok());
  o.units = {"SYSLOG_IDENTIFIER=dovecot"};
  EXPECT_FALSE(JournalSource::Validate(o).ok());
  o.units = {"dovecot"};
  EXPECT_FALSE(JournalSource::Validate(o).ok());
  o.units.clear();
  o.executables = {"dovecot"};
  EXPECT_FALSE(JournalSource::Validate(o).ok());
  o.executables = {"/usr/sbin/dovecot"};
  EXPECT_TRUE(JournalSource::Validate(o).ok());
}

TEST(JournalSourceOptionsTest, DefaultUnitsAreThoseOfTheDebianPackages) {
  EXPECT_EQ(JournalSource::DefaultUnits(*LogFormatsFromFlag("dovecot")),
            std::vector<std::string>{"dovecot.service"});
  EXPECT_EQ(JournalSource::DefaultUnits(*LogFormatsFromFlag("auto")),
            (std::vector<std::string>{
                "dovecot.service", "courier-imap.service",
                "courier-imap-ssl.service", "courier-pop.service",
                "courier-pop-ssl.service", "cyrus-imapd.service"}));
  EXPECT_TRUE(
      JournalSource::DefaultUnits(*LogFormatsFromFlag("qpopper")).empty());
}

}  // namespace
}  // namespace relaysync
