// relaysync-soak-bench: a bounded chaos soak. Agents and coordinators on a
// shared Redis, as real processes on loopback, under an open-loop login
// load; every --kill_every one of them (or Redis) chosen at random is
// SIGKILLed and started again. Afterwards every login whose notify
// succeeded must be in every map (or, with a short --expire_after, have
// expired as it should), the maps' mtime must not have run away from the
// clock, and no process may have kept growing. Exit 1 otherwise.
// See bench/README.md ("Chaos soak").
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "testing/cluster.h"
#include "testing/login_load.h"
#include "testing/process.h"
#include "testing/redis_server.h"

ABSL_FLAG(int, agents, 4, "agents (1-8)");
ABSL_FLAG(int, coordinators, 2, "coordinators sharing Redis (1-4)");
ABSL_FLAG(double, rate, 1000, "logins per second, spread over the agents");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(10), "how long to run");
ABSL_FLAG(absl::Duration, kill_every, absl::Seconds(20),
          "SIGKILL one random process this often");
ABSL_FLAG(absl::Duration, restart_after, absl::Seconds(1),
          "how long a killed process stays down");
ABSL_FLAG(absl::Duration, expire_after, absl::Minutes(30),
          "the coordinators' --expire-after");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(30),
          "after the load stops, how long the maps may take to converge");
ABSL_FLAG(int64_t, max_mtime_drift, 2,
          "fail if a map's mtime ever runs more seconds ahead of the clock");
ABSL_FLAG(double, max_rss_growth, 2.0,
          "fail if a process kind's RSS in the last third of the run exceeds "
          "this times its RSS in the first third, plus 32 MiB");
ABSL_FLAG(uint64_t, seed, 0, "victim choice; 0: from the clock (printed)");

namespace relaysync {
namespace {

using testing::Cluster;
using testing::LoginLoad;
using testing::MapChecker;
using testing::RedisServer;
using testing::RedisServerOptions;
using testing::SentLogin;

// How far (seconds) `path`'s mtime is ahead of now; 0 if not.
int64_t MtimeDrift(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return std::max<int64_t>(
      0, st.st_mtim.tv_sec - absl::ToUnixSeconds(absl::Now()));
}

struct Rss {
  int64_t max = 0, early = 0, late = 0;  // KiB
};

class Soak {
 public:
  Soak(int agents, int coordinators)
      : agents_(agents), coordinators_(coordinators) {}
  int Run();

 private:
  bool StartAll();
  // Kills victim v (agents first, then coordinators, then Redis) and starts
  // it again after --restart_after; false if it does not come back.
  bool KillAndRestart(int v);
  std::string VictimName(int v) const;
  void Sample(absl::Duration elapsed, absl::Duration total);
  // The final check; returns the number of problems.
  int Check(const std::vector<SentLogin>& sent);

  const int agents_;
  const int coordinators_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Cluster> cluster_;
  std::map<std::string, Rss> rss_;
  std::map<std::string, int> kills_;
  int64_t max_drift_ = 0;
  std::string max_drift_map_;
  int restart_failures_ = 0;
};

bool Soak::StartAll() {
  RedisServerOptions options;
  // Loses nothing it acknowledged, as docs/redis.md asks.
  options.appendonly = true;
  options.appendfsync = "always";
  redis_ = std::make_unique<RedisServer>(options);
  if (absl::Status s = redis_->Start(); !s.ok()) {
    std::cout << "redis: " << s.message() << "\n";
    return false;
  }
  cluster_ = std::make_unique<Cluster>(
      agents_,
      std::vector<std::string>{
          "--store=redis", "--redis=" + redis_->address(), "--redis-timeout=1s",
          absl::StrCat("--expire-after=",
                       absl::FormatDuration(absl::GetFlag(FLAGS_expire_after))),
          "--quiet"},
      coordinators_);
  for (int i = 0; i < agents_; ++i) cluster_->AddAgentFlags(i, {"--quiet"});
  return cluster_->StartAll();
}

std::string Soak::VictimName(int v) const {
  if (v < agents_) return absl::StrCat("agent-", v);
  if (v < agents_ + coordinators_) {
    return absl::StrCat("coordinator-", v - agents_);
  }
  return "redis";
}

bool Soak::KillAndRestart(int v) {
  const absl::Duration down = absl::GetFlag(FLAGS_restart_after);
  if (v < agents_) {
    cluster_->StopAgent(v, SIGKILL);
    absl::SleepFor(down);
    return cluster_->StartAgent(v);
  }
  if (v < agents_ + coordinators_) {
    cluster_->StopCoordinator(SIGKILL, v - agents_);
    absl::SleepFor(down);
    return cluster_->StartCoordinator(v - agents_);
  }
  redis_->Stop(SIGKILL);
  absl::SleepFor(down);
  absl::Status s = redis_->Start();
  if (!s.ok()) std::cout << "redis: " << s.message() << "\n";
  return s.ok();
}

void Soak::Sample(absl::Duration elapsed, absl::Duration total) {
  auto note = [&](const std::string& kind, int pid) {
    const int64_t kib =
        std::max<int64_t>(0, testing::ProcStatusKib(pid, "VmRSS"));
    Rss& r = rss_[kind];
    r.max = std::max(r.max, kib);
    if (elapsed < total / 3) r.early = std::max(r.early, kib);
    if (elapsed > total * 2 / 3) r.late = std::max(r.late, kib);
  };
  for (int i = 0; i < agents_; ++i) note("agent", cluster_->agent_pid(i));
  for (int k = 0; k < coordinators_; ++k) {
    note("coordinator", cluster_->coordinator_pid(k));
  }
  note("redis", redis_->pid());
  for (int i = 0; i < agents_; ++i) {
    const int64_t d = MtimeDrift(cluster_->Db(i));
    if (d > max_drift_) {
      max_drift_ = d;
      max_drift_map_ = cluster_->Db(i);
    }
  }
}

int Soak::Check(const std::vector<SentLogin>& sent) {
  const absl::Duration expire = absl::GetFlag(FLAGS_expire_after);
  const absl::Duration settle = absl::GetFlag(FLAGS_settle);
  std::vector<std::string> maps;
  for (int i = 0; i < agents_; ++i) maps.push_back(cluster_->Db(i));
  // Must be in every map: cannot have expired before the settling ends
  // (5 s for clocks and expiry passes). Must be gone: expired more than
  // 30 s ago (expiry passes, a drop file read late by a restarted agent).
  const absl::Time now = absl::Now();
  MapChecker present(maps);
  std::vector<std::string> gone;
  int64_t confirmed = 0, must_be_present = 0;
  for (const SentLogin& s : sent) {
    if (!s.ok) continue;
    ++confirmed;
    if (s.sent > now + settle - expire + absl::Seconds(5)) {
      present.Expect(s.address);
      ++must_be_present;
    } else if (s.sent < now - expire - absl::Seconds(30)) {
      gone.push_back(s.address);
    }
  }
  const absl::Duration took = testing::TimeToConverge(&present, settle);
  const size_t lost = present.Check();
  int64_t not_expired = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    for (const std::string& a : gone) not_expired += present.Has(i, a);
  }
  int problems = 0;
  std::cout << absl::StreamFormat(
      "logins: sent %d, confirmed %d (%d must be in every map, %d must have "
      "expired), lost %d, not expired %d; converged %s after the load "
      "stopped\n",
      sent.size(), confirmed, must_be_present, gone.size(), lost, not_expired,
      took > settle ? "not" : absl::FormatDuration(took));
  if (lost > 0) {
    std::cout << "FAIL lost, e.g. " << absl::StrJoin(present.Sample(10), ", ")
              << "\n";
    ++problems;
  }
  if (not_expired > 0) {
    std::cout << "FAIL " << not_expired << " entries outlived --expire_after\n";
    ++problems;
  }
  if (static_cast<int64_t>(sent.size()) != confirmed) {
    std::cout << "FAIL " << sent.size() - confirmed
              << " notifies failed (neither spooled nor dropped)\n";
    ++problems;
  }
  return problems;
}

int Soak::Run() {
  if (!StartAll()) {
    std::cout << "FAIL cluster did not start\n"
              << (cluster_ ? cluster_->Logs() : "");
    return 1;
  }
  const absl::Duration total = absl::GetFlag(FLAGS_duration);
  const absl::Duration every = absl::GetFlag(FLAGS_kill_every);
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::mt19937_64 rng(seed);
  std::cout << absl::StreamFormat(
      "soak: %d agents, %d coordinators on Redis, %.0f logins/s for %s, one "
      "random process SIGKILLed every %s (down %s), seed %d\n",
      agents_, coordinators_, absl::GetFlag(FLAGS_rate),
      absl::FormatDuration(total), absl::FormatDuration(every),
      absl::FormatDuration(absl::GetFlag(FLAGS_restart_after)), seed);

  std::vector<LoginLoad::Sender> senders;
  for (int i = 0; i < agents_; ++i) {
    senders.push_back(
        {cluster_->Socket(i), nullptr, absl::GetFlag(FLAGS_rate) / agents_});
  }
  LoginLoad load(senders);
  const absl::Time start = absl::Now();
  load.Start(total);
  absl::Time next_kill = start + every;
  const int victims = agents_ + coordinators_ + 1;
  // One step a second: sample, and kill when due. Bounded by `total`.
  while (absl::Now() - start < total) {
    absl::SleepFor(absl::Seconds(1));
    const absl::Duration elapsed = absl::Now() - start;
    Sample(elapsed, total);
    if (absl::Now() < next_kill || elapsed + every / 2 > total) continue;
    const int v = static_cast<int>(rng() % victims);
    const std::string name = VictimName(v);
    ++kills_[name.substr(0, name.find('-'))];
    std::cout << absl::StreamFormat("%6.1fs kill %s\n",
                                    absl::ToDoubleSeconds(elapsed), name)
              << std::flush;
    if (!KillAndRestart(v)) {
      std::cout << "FAIL " << name << " did not restart\n";
      ++restart_failures_;
      KillAndRestart(v);  // once more
    }
    next_kill += every;
  }
  load.Stop();
  const std::vector<SentLogin> sent = load.Sent();
  int problems = Check(sent) + restart_failures_;

  std::cout << "kills:";
  for (const auto& [kind, n] : kills_) std::cout << " " << kind << " " << n;
  std::cout << "\nmax RSS (MiB, whole run / first third / last third):";
  const double growth = absl::GetFlag(FLAGS_max_rss_growth);
  for (const auto& [kind, r] : rss_) {
    std::cout << absl::StreamFormat(" %s %.1f/%.1f/%.1f", kind, r.max / 1024.0,
                                    r.early / 1024.0, r.late / 1024.0);
  }
  std::cout << "\n";
  for (const auto& [kind, r] : rss_) {
    if (r.late > growth * r.early + 32 * 1024) {
      std::cout << "FAIL " << kind << " grew: " << r.early / 1024 << " -> "
                << r.late / 1024 << " MiB\n";
      ++problems;
    }
  }
  std::cout << "max mtime drift: " << max_drift_ << " s ahead of the clock"
            << (max_drift_map_.empty() ? "" : " (" + max_drift_map_ + ")")
            << "\n";
  if (max_drift_ > absl::GetFlag(FLAGS_max_mtime_drift)) {
    std::cout << "FAIL mtime drift above --max_mtime_drift\n";
    ++problems;
  }
  if (problems > 0) {
    std::cout << cluster_->Logs().substr(0, 200000);
    std::cout << "soak: FAILED (" << problems << " problem(s))\n";
    return 1;
  }
  std::cout << "soak: OK\n";
  return 0;
}

}  // namespace
}  // namespace relaysync

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int agents = absl::GetFlag(FLAGS_agents);
  const int coordinators = absl::GetFlag(FLAGS_coordinators);
  if (agents < 1 || agents > 8 || coordinators < 1 || coordinators > 4 ||
      absl::GetFlag(FLAGS_rate) <= 0 ||
      absl::GetFlag(FLAGS_kill_every) < absl::Seconds(2) ||
      absl::GetFlag(FLAGS_duration) > absl::Hours(2)) {
    std::cerr << "relaysync-soak-bench: --agents 1-8, --coordinators 1-4, "
                 "--rate > 0, --kill_every >= 2s, --duration <= 2h\n";
    return 2;
  }
  relaysync::Soak soak(agents, coordinators);
  return soak.Run();
}
