// The log-injection corpus (fuzz/corpus/dovecot_log_parser/inject-*, the
// CVE-2001-1075 class: user names that carry a fake "rip=", newlines, NULs,
// quoting tricks, long lines) through the real parser and through a real
// DovecotLogSource (LogTailer + parser) on a log file: no line may grant an
// address the attacker chose. Every such address in the corpus is one of
// kAttacker; the genuine client of every genuine line is 192.0.2.10.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "agent/dovecot_log_parser.h"
#include "agent/dovecot_log_source.h"
#include "agent/log_format.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::AppendToFile;
using ::relaysync::testing::ReadFile;
using ::relaysync::testing::ScratchDir;

const std::set<std::string> kAttacker = {"6.6.6.6", "203.0.113.66",
                                         "2001:db8:bad::66"};
constexpr char kGenuine[] = "192.0.2.10";
constexpr char kCorpusDir[] =
    RELAYSYNC_SOURCE_DIR "/fuzz/corpus/dovecot_log_parser";
const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2026, 11, 25, 12, 0, 0), absl::UTCTimeZone());

struct Item {
  std::string name;
  std::string bytes;
};

// Every inject-* file, by name.
std::vector<Item> InjectionCorpus() {
  std::vector<Item> items;
  DIR* dir = opendir(kCorpusDir);
  if (dir == nullptr) return items;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (!absl::StartsWith(name, "inject-")) continue;
    items.push_back({name, ReadFile(absl::StrCat(kCorpusDir, "/", name))});
  }
  closedir(dir);
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.name < b.name; });
  return items;
}

// What Dovecot would write for the item: control characters as '?'
// (str_sanitize). A raw newline would let the attacker write whole lines.
std::string AsDovecotWritesIt(std::string bytes) {
  for (char& c : bytes) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return bytes;
}

std::optional<LocalLogin> Parse(absl::string_view line) {
  return ParseDovecotLoginLine(line, kNow, absl::UTCTimeZone());
}

TEST(LogInjectionTest, CorpusCoversTheInjectionKinds) {
  std::vector<Item> items = InjectionCorpus();
  ASSERT_GE(items.size(), 40u) << kCorpusDir;
  auto any = [&](auto pred) {
    return std::any_of(items.begin(), items.end(), pred);
  };
  EXPECT_TRUE(any([](const Item& i) {
    return absl::StrContains(i.bytes, "rip=6.6.6.6") &&
           absl::StrContains(i.bytes, "lip=");
  }));
  EXPECT_TRUE(
      any([](const Item& i) { return i.bytes.find('\n') != i.bytes.npos; }));
  EXPECT_TRUE(
      any([](const Item& i) { return i.bytes.find('\0') != i.bytes.npos; }));
  EXPECT_TRUE(any([](const Item& i) { return i.bytes.size() > 4096; }));
  EXPECT_TRUE(any([](const Item& i) {
    return std::any_of(i.bytes.begin(), i.bytes.end(),
                       [](char c) { return (c & 0x80) != 0; });
  }));
}

TEST(LogInjectionTest, ParserNeverGrantsAnInjectedAddress) {
  for (const Item& item : InjectionCorpus()) {
    for (const std::string& line :
         {item.bytes, AsDovecotWritesIt(item.bytes)}) {
      std::optional<LocalLogin> login = Parse(line);
      if (!login.has_value()) continue;
      EXPECT_EQ(kAttacker.count(login->address), 0u) << item.name;
      EXPECT_EQ(login->address, kGenuine) << item.name;
    }
  }
}

TEST(LogInjectionTest, AHostileUserNameStillGrantsTheRealClient) {
  std::optional<LocalLogin> login =
      Parse(ReadFile(absl::StrCat(kCorpusDir, "/inject-own-fake-tail")));
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->address, kGenuine);
  EXPECT_EQ(login->user, "a>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1");
}

// The same kind of corpus for every other format (fuzz/corpus/log_formats,
// user names carrying each format's own address field), through every
// format at once (--log-format=auto): a login is always for the genuine
// client, and every format's genuine line still counts.
TEST(LogInjectionTest, NoFormatGrantsAnInjectedAddress) {
  const std::string dir = RELAYSYNC_SOURCE_DIR "/fuzz/corpus/log_formats";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  ASSERT_GE(names.size(), 50u);
  const std::vector<const LogFormat*> formats = *LogFormatsFromFlag("auto");
  size_t granted = 0;
  std::set<std::string> formats_granting;
  for (const std::string& name : names) {
    LogLineVerdict v = ClassifyLogLine(ReadFile(absl::StrCat(dir, "/", name)),
                                       formats, kNow, absl::UTCTimeZone());
    if (v.verdict.kind != LoginVerdict::Kind::kLogin) continue;
    ++granted;
    formats_granting.insert(std::string(v.format->name));
    EXPECT_EQ(kAttacker.count(v.verdict.login.address), 0u) << name;
    EXPECT_TRUE(v.verdict.login.address == kGenuine ||
                v.verdict.login.address == "2001:db8::10")
        << name << " -> " << v.verdict.login.address;
  }
  EXPECT_GE(granted, names.size() / 2);
  EXPECT_EQ(formats_granting.size(), AllLogFormats().size());
}

// The whole corpus appended to a tailed log, raw and as Dovecot writes it,
// then one genuine login as a sentinel: everything before it was read.
TEST(LogInjectionTest, LogTailerNeverGrantsAnInjectedAddress) {
  ScratchDir dir;
  const std::string log = dir.File("dovecot.log");
  EXPECT_TRUE(AppendToFile(log, ""));
  FakeClock clock(kNow);
  DovecotLogSource::Options options;
  options.log_path = log;
  options.time_zone = absl::UTCTimeZone();
  options.clock = &clock;
  DovecotLogSource source(options);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<LocalLogin> logins;
  ASSERT_TRUE(source
                  .Start([&](const std::vector<LocalLogin>& batch) {
                    std::lock_guard<std::mutex> lock(mu);
                    logins.insert(logins.end(), batch.begin(), batch.end());
                    cv.notify_all();
                    return absl::OkStatus();
                  })
                  .ok());
  std::string text;
  for (const Item& item : InjectionCorpus()) {
    // A raw newline ending a complete forged line is the log writer's
    // failure, not the reader's: that one is written as Dovecot writes it.
    if (!absl::StrContains(item.name, "nl-forged")) {
      absl::StrAppend(&text, item.bytes, "\n");
    }
    absl::StrAppend(&text, AsDovecotWritesIt(item.bytes), "\n");
  }
  absl::StrAppend(&text,
                  "Nov 25 04:30:00 imap-login: Info: Login: user=<sentinel>, "
                  "method=PLAIN, rip=192.0.2.99, lip=192.0.2.1, mpid=9\n");
  EXPECT_TRUE(AppendToFile(log, text));
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] {
    return !logins.empty() && logins.back().address == "192.0.2.99";
  }));
  for (const LocalLogin& login : logins) {
    EXPECT_EQ(kAttacker.count(login.address), 0u) << login.user;
    if (login.user != "sentinel") {
      EXPECT_EQ(login.address, kGenuine);
    }
  }
  EXPECT_GT(logins.size(), 10u);  // the genuine clients are still seen
}

}  // namespace
}  // namespace relaysync
