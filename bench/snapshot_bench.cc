// relaysync-snapshot-bench: what a big snapshot costs the agent's map, in
// one run (see bench/README.md):
//  1. sendmail's makemap builds a hash map of N entries (the reference);
//  2. the agent's Materializer applies the same N entries as a snapshot
//     into an empty map (an agent's first start on a big cluster);
//  3. it applies a second snapshot in which every entry changed (a
//     reconciliation after a long disconnection);
// while a sendmail-style reader process (flock LOCK_SH around each lookup,
// as sendmail's map code takes it) measures the longest time it waited for
// the lock. It also reports this process's resident memory after each step:
// what the materializer holds for N entries.
#include <db.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/agent.h"
#include "agent/materializer.h"
#include "backends/map/map_kind.h"
#include "testing/process.h"

ABSL_FLAG(int, entries, 1000000, "snapshot size (distinct IPv4 addresses)");
ABSL_FLAG(std::string, makemap, "/usr/sbin/makemap",
          "sendmail's makemap; empty to skip the reference");
ABSL_FLAG(int, cache_kib, -1,
          "the map handle's Berkeley DB cache (default: the agent's)");
ABSL_FLAG(std::string, work_dir, "",
          "a new or empty directory to work in (default: a fresh one under "
          "/var/tmp, removed afterwards)");

namespace relaysync {
namespace {

constexpr int64_t kBaseTicks = 1700000000;

std::string AddressFor(int i) {
  return absl::StrCat("10.", (i >> 16) & 0xff, ".", (i >> 8) & 0xff, ".",
                      i & 0xff);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double RssMib() {
  return static_cast<double>(testing::ProcStatusKib(getpid(), "VmRSS")) /
         1024.0;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "snapshot-bench: %s\n", what.c_str());
  std::exit(1);
}

// sendmail's makemap on the same entries, timed from exec to exit.
double TimeMakemap(const std::string& makemap, const std::string& dir, int n) {
  const std::string input = dir + "/makemap-input.txt";
  FILE* f = std::fopen(input.c_str(), "w");
  if (f == nullptr) Die("cannot write " + input);
  for (int i = 0; i < n; ++i) {
    std::fprintf(f, "%s\t%lld\n", AddressFor(i).c_str(),
                 static_cast<long long>(kBaseTicks + i % 86400));
  }
  std::fclose(f);
  const std::string out = dir + "/makemap";
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    int in = open(input.c_str(), O_RDONLY);
    int devnull = open("/dev/null", O_WRONLY);
    if (in < 0 || devnull < 0) _exit(126);
    dup2(in, 0);
    dup2(devnull, 2);  // it warns about the world-writable /var/tmp above
    execl(makemap.c_str(), "makemap", "hash", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double seconds = SecondsSince(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die(absl::StrCat(makemap, " failed (status ", status, ")"));
  }
  unlink(input.c_str());
  unlink((out + ".db").c_str());
  return seconds;
}

// The reader, in a child process: until `stop_fd` reads EOF, takes the
// shared flock on the map as sendmail does for each lookup, looks up one
// address, and releases it. Writes its longest wait (µs) and its lookup
// count to `result_fd`.
void ReaderMain(const std::string& path, int stop_fd, int result_fd, int n) {
  int64_t longest_us = 0, lookups = 0;
  DB* db = nullptr;
  for (int i = 0;; ++i) {
    char c;
    if (read(stop_fd, &c, 1) == 0) break;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) {
      usleep(1000);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    if (flock(fd, LOCK_SH) != 0) _exit(2);
    const int64_t waited_us =
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start)
            .count();
    if (waited_us > longest_us) longest_us = waited_us;
    if (db == nullptr && db_create(&db, nullptr, 0) == 0 &&
        db->open(db, nullptr, path.c_str(), nullptr, DB_UNKNOWN, DB_RDONLY,
                 0) != 0) {
      db->close(db, 0);
      db = nullptr;
    }
    if (db != nullptr) {
      std::string key = AddressFor(i % n);
      DBT k, v;
      std::memset(&k, 0, sizeof(k));
      std::memset(&v, 0, sizeof(v));
      k.data = key.data();
      k.size = key.size();
      db->get(db, nullptr, &k, &v, 0);
      db->close(db, 0);  // sendmail sessions are short: reopen each time
      db = nullptr;
    }
    flock(fd, LOCK_UN);
    close(fd);
    ++lookups;
    usleep(200);
  }
  dprintf(result_fd, "%lld %lld\n", static_cast<long long>(longest_us),
          static_cast<long long>(lookups));
  _exit(0);
}

struct Reader {
  pid_t pid = -1;
  int stop = -1;
  int result = -1;
};

Reader StartReader(const std::string& path, int n) {
  int stop[2], result[2];
  if (pipe2(stop, O_NONBLOCK) != 0 || pipe(result) != 0) Die("pipe");
  Reader r;
  r.pid = fork();
  if (r.pid < 0) Die("fork");
  if (r.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(stop[1]);
    close(result[0]);
    ReaderMain(path, stop[0], result[1], n);
  }
  close(stop[0]);
  close(result[1]);
  r.stop = stop[1];
  r.result = result[0];
  return r;
}

// Stops the reader; returns its longest wait in milliseconds.
double StopReader(Reader* r, int64_t* lookups) {
  close(r->stop);
  char buf[64] = {};
  ssize_t got = read(r->result, buf, sizeof(buf) - 1);
  close(r->result);
  waitpid(r->pid, nullptr, 0);
  long long longest = 0, count = 0;
  if (got <= 0 || std::sscanf(buf, "%lld %lld", &longest, &count) != 2) {
    Die("the reader reported nothing");
  }
  *lookups = count;
  return static_cast<double>(longest) / 1000.0;
}

int Run() {
  const int n = absl::GetFlag(FLAGS_entries);
  if (n < 1 || n > (1 << 24)) Die("--entries: 1 to 16777216");
  std::string dir = absl::GetFlag(FLAGS_work_dir);
  const bool keep = !dir.empty();
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/relaysync-snapshot-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    dir = tmpl;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  const std::string path = dir + "/relayers.db";

  double makemap_s = -1;
  if (!absl::GetFlag(FLAGS_makemap).empty()) {
    makemap_s = TimeMakemap(absl::GetFlag(FLAGS_makemap), dir, n);
  }

  const double rss_start = RssMib();
  std::vector<StateEntry> first, second;
  first.reserve(n);
  for (int i = 0; i < n; ++i) {
    first.push_back(StateEntry{AddressFor(i), kBaseTicks + i % 86400});
  }

  // As the agent opens its --db: kernel-only writes (see MapOptions).
  MapOptions options;
  options.sync_to_disk = false;
  options.cache_bytes = kAgentMapCacheBytes;
  if (absl::GetFlag(FLAGS_cache_kib) > 0) {
    options.cache_bytes = size_t{1024} * absl::GetFlag(FLAGS_cache_kib);
  }
  absl::StatusOr<std::unique_ptr<MapWriter>> map =
      OpenMap(MapKind::kSendmail, path, RelayersDb::Mode::kReadWrite, options);
  if (!map.ok()) Die(map.status().ToString());
  Materializer materializer(map->get(), KeyStyle::kSendmail,
                            SystemClock::Get());
  if (absl::Status s = materializer.Load(); !s.ok()) Die(s.ToString());

  Reader reader = StartReader(path, n);
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = materializer.ApplySnapshot(std::move(first)); !s.ok()) {
    Die(s.ToString());
  }
  const double first_s = SecondsSince(start);
  int64_t first_lookups = 0;
  const double first_wait_ms = StopReader(&reader, &first_lookups);
  first.clear();
  first.shrink_to_fit();
  malloc_trim(0);
  const double rss_first = RssMib();

  second.reserve(n);
  for (int i = 0; i < n; ++i) {
    second.push_back(StateEntry{AddressFor(i), kBaseTicks + 100000 + i});
  }
  reader = StartReader(path, n);
  start = std::chrono::steady_clock::now();
  if (absl::Status s = materializer.ApplySnapshot(std::move(second)); !s.ok()) {
    Die(s.ToString());
  }
  const double second_s = SecondsSince(start);
  int64_t second_lookups = 0;
  const double second_wait_ms = StopReader(&reader, &second_lookups);
  second.clear();
  second.shrink_to_fit();
  malloc_trim(0);
  const double rss_second = RssMib();

  std::printf("entries                      %d\n", n);
  if (makemap_s >= 0) {
    std::printf("makemap hash                 %.2f s\n", makemap_s);
  }
  std::printf("snapshot into an empty map   %.2f s", first_s);
  if (makemap_s > 0) std::printf("  (%.2fx makemap)", first_s / makemap_s);
  std::printf("\n  reader's longest lock wait %.1f ms (%lld lookups)\n",
              first_wait_ms, static_cast<long long>(first_lookups));
  std::printf("snapshot changing every one  %.2f s\n", second_s);
  std::printf("  reader's longest lock wait %.1f ms (%lld lookups)\n",
              second_wait_ms, static_cast<long long>(second_lookups));
  std::printf(
      "resident memory              %.1f MiB before, %.1f after the first "
      "snapshot, %.1f after the second (%.0f bytes/entry held)\n",
      rss_start, rss_first, rss_second,
      (rss_second - rss_start) * 1048576.0 / n);
  if (!keep) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return 0;
}

}  // namespace
}  // namespace relaysync

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times a big snapshot into the agent's map against makemap; see "
      "bench/README.md.");
  absl::ParseCommandLine(argc, argv);
  return relaysync::Run();
}
