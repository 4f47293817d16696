// Micro-benchmarks of RelayersDb on a map of 100,000 entries: one Put per
// Apply (a login recorded on its own), random Get (a lookup), and batched
// Apply (an agent catching up). See bench/README.md.
#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "backends/map/relayers_db.h"
#include "benchmark/benchmark.h"

namespace relaysync {
namespace {

constexpr int kEntries = 100000;
constexpr int kFillBatch = 10000;
constexpr int64_t kBaseTicks = 1700000000;

// "10.x.y.z": distinct for i < 2^24.
std::string KeyFor(int i) {
  return absl::StrCat("10.", (i >> 16) & 0xff, ".", (i >> 8) & 0xff, ".",
                      i & 0xff);
}

// A map of kEntries entries in a private directory under /var/tmp, built
// once per process because filling it costs more than most benchmark runs.
// The benchmarks only overwrite existing keys, so it stays at kEntries and
// their results do not depend on the order in which they run.
class PrefilledMap {
 public:
  static PrefilledMap& Instance() {
    static PrefilledMap map;  // destroyed, and its directory removed, at exit
    return map;
  }

  ~PrefilledMap() {
    db_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  const absl::Status& status() const { return status_; }
  RelayersDb& db() { return *db_; }
  // A second handle on the same file whose writes are not flushed to disk
  // (MapOptions::sync_to_disk off, as the agent writes).
  absl::StatusOr<RelayersDb*> KernelOnlyDb() {
    if (kernel_only_ == nullptr) {
      MapOptions options;
      options.sync_to_disk = false;
      absl::StatusOr<std::unique_ptr<RelayersDb>> db = RelayersDb::Open(
          dir_ + "/relayers.db", RelayersDb::Mode::kReadWrite, options);
      if (!db.ok()) return db.status();
      kernel_only_ = std::move(*db);
    }
    return kernel_only_.get();
  }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  PrefilledMap() { status_ = Build(); }

  absl::Status Build() {
    char tmpl[] = "/var/tmp/relayers-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp ", tmpl, ": ", std::strerror(errno)));
    }
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(dir_ + "/relayers.db", RelayersDb::Mode::kReadWrite);
    if (!db.ok()) return db.status();
    db_ = std::move(*db);
    MapBatch batch;
    for (int i = 0; i < kEntries; ++i) {
      keys_.push_back(KeyFor(i));
      batch.Put(keys_.back(), kBaseTicks + i);
      if (batch.size() == kFillBatch || i + 1 == kEntries) {
        absl::StatusOr<ApplyResult> r = db_->Apply(batch);
        if (!r.ok()) return r.status();
        batch.Clear();
      }
    }
    return absl::OkStatus();
  }

  std::string dir_;
  std::unique_ptr<RelayersDb> db_;
  std::unique_ptr<RelayersDb> kernel_only_;
  std::vector<std::string> keys_;
  absl::Status status_;
};

// The shared map, or nullptr after marking `state` as failed.
PrefilledMap* MapOrSkip(benchmark::State& state) {
  PrefilledMap& map = PrefilledMap::Instance();
  if (map.status().ok()) return &map;
  state.SkipWithError(map.status().ToString().c_str());
  return nullptr;
}

// One put per Apply on `db`: the cost of recording logins one at a time.
void PutOneEach(benchmark::State& state, PrefilledMap& map, RelayersDb& db) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> pick(0, kEntries - 1);
  int64_t ticks = kBaseTicks + kEntries;
  for (auto _ : state) {
    MapBatch batch;
    batch.Put(map.keys()[pick(rng)], ++ticks);
    absl::StatusOr<ApplyResult> r = db.Apply(batch);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Each Apply takes the exclusive flock, syncs to disk and bumps the mtime.
void BM_PutOne(benchmark::State& state) {
  PrefilledMap* map = MapOrSkip(state);
  if (map != nullptr) PutOneEach(state, *map, map->db());
}
// Real time: Apply mostly waits for fdatasync, which CPU time would hide.
BENCHMARK(BM_PutOne)->UseRealTime();

// The same, written as the agent writes: pages handed to the kernel, no
// disk flush.
void BM_PutOneKernelOnly(benchmark::State& state) {
  PrefilledMap* map = MapOrSkip(state);
  if (map == nullptr) return;
  absl::StatusOr<RelayersDb*> db = map->KernelOnlyDb();
  if (!db.ok()) {
    state.SkipWithError(db.status().ToString().c_str());
    return;
  }
  PutOneEach(state, *map, **db);
}
BENCHMARK(BM_PutOneKernelOnly)->UseRealTime();

// Each Get takes a shared flock and checks the file's identity.
void BM_Get(benchmark::State& state) {
  PrefilledMap* map = MapOrSkip(state);
  if (map == nullptr) return;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> pick(0, kEntries - 1);
  for (auto _ : state) {
    absl::StatusOr<std::string> value = map->db().Get(map->keys()[pick(rng)]);
    if (!value.ok()) {
      state.SkipWithError(value.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Get)->UseRealTime();

// One Apply of state.range(0) puts to random existing keys; building the
// batch is timed too, as every caller pays for it.
void BM_BatchApply(benchmark::State& state) {
  PrefilledMap* map = MapOrSkip(state);
  if (map == nullptr) return;
  const int64_t batch_size = state.range(0);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> pick(0, kEntries - 1);
  int64_t ticks = kBaseTicks + kEntries;
  for (auto _ : state) {
    MapBatch batch;
    for (int64_t i = 0; i < batch_size; ++i) {
      batch.Put(map->keys()[pick(rng)], ++ticks);
    }
    absl::StatusOr<ApplyResult> r = map->db().Apply(batch);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}
BENCHMARK(BM_BatchApply)
    ->ArgName("batch")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime();

}  // namespace
}  // namespace relaysync
