// relaysync-agent-memory-bench: the resident memory of a real agent that
// holds N entries (see bench/README.md). It fills a coordinator's embedded
// store with N logins before the coordinator starts, starts the coordinator
// and one agent (TLS, as deployed), waits until the agent's map holds all
// of them, and reports the agent's VmRSS (after it has settled) and VmHWM
// (its peak, while it received and applied the snapshot).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/store/embedded_store.h"
#include "testing/cluster.h"
#include "testing/process.h"
#include "testing/wait.h"

ABSL_FLAG(int, entries, 1000000, "logins in the store (distinct IPv4)");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(5),
          "how long the agent runs after its map is complete before its "
          "memory is read");

namespace relaysync {
namespace {

std::string AddressFor(int i) {
  return absl::StrCat("10.", (i >> 16) & 0xff, ".", (i >> 8) & 0xff, ".",
                      i & 0xff);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "agent-memory-bench: %s\n", what.c_str());
  std::exit(1);
}

double Mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

int Run() {
  const int n = absl::GetFlag(FLAGS_entries);
  if (n < 1 || n > (1 << 24)) Die("--entries: 1 to 16777216");
  testing::Cluster cluster(1);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  {
    EmbeddedStoreOptions options;
    options.data_dir = cluster.dir() + "/coordinator-data-0";
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Open(options);
    if (!store.ok()) Die(store.status().ToString());
    std::vector<Login> batch;
    for (int i = 0; i < n; ++i) {
      batch.emplace_back(AddressFor(i), now - i % 600);
      if (batch.size() == 10000 || i == n - 1) {
        absl::StatusOr<MutationResult> r =
            (*store)->MergeLogins(batch, INT64_MIN);
        if (!r.ok()) Die(r.status().ToString());
        batch.clear();
      }
    }
  }
  const absl::Time start = absl::Now();
  if (!cluster.StartAll()) Die("the cluster did not start:\n" + cluster.Logs());
  const std::string last = AddressFor(n - 1);
  if (!testing::WaitForCondition(
          [&] { return cluster.Lookup(0, last).has_value(); },
          absl::Minutes(5))) {
    Die("the agent's map never got " + last + ":\n" + cluster.Logs());
  }
  const absl::Duration took = absl::Now() - start;
  const pid_t agent = cluster.agent_pid(0);
  if (getenv("AGENT_MEMORY_BENCH_LOGS") != nullptr) {
    for (absl::Time end = absl::Now() + absl::GetFlag(FLAGS_settle);
         absl::Now() < end; absl::SleepFor(absl::Milliseconds(500))) {
      std::printf("  %.1f s: RssAnon %.1f MiB\n",
                  absl::ToDoubleSeconds(absl::Now() - start),
                  Mib(testing::ProcStatusKib(agent, "RssAnon")));
    }
  } else {
    absl::SleepFor(absl::GetFlag(FLAGS_settle));
  }
  const int64_t rss = testing::ProcStatusKib(agent, "VmRSS");
  const int64_t hwm = testing::ProcStatusKib(agent, "VmHWM");
  const int64_t anon = testing::ProcStatusKib(agent, "RssAnon");
  const int64_t file = testing::ProcStatusKib(agent, "RssFile");
  if (rss < 0 || hwm < 0 || anon < 0 || file < 0) {
    Die("cannot read /proc/PID/status of the agent");
  }
  std::printf("entries                  %d\n", n);
  std::printf("agent map complete after %.1f s (coordinator start included)\n",
              absl::ToDoubleSeconds(took));
  std::printf("agent VmRSS              %.1f MiB (%.0f bytes/entry)\n",
              Mib(rss), static_cast<double>(rss) * 1024.0 / n);
  std::printf("  of which anonymous     %.1f MiB (heap, stacks, caches)\n",
              Mib(anon));
  std::printf(
      "  of which file-backed   %.1f MiB (program and shared "
      "libraries, shared with other processes)\n",
      Mib(file));
  std::printf("agent VmHWM (peak)       %.1f MiB\n", Mib(hwm));
  if (getenv("AGENT_MEMORY_BENCH_LOGS") != nullptr) {
    std::printf("%s\n", cluster.Logs().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace relaysync

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The resident memory of an agent holding N entries; see "
      "bench/README.md.");
  absl::ParseCommandLine(argc, argv);
  return relaysync::Run();
}
