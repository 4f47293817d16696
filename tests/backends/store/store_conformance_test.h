// The behaviour every Store must have (docs/state.md), as a value-
// parameterized suite. A backend's test links store_conformance_test.cc and
// instantiates the suite with its factory:
//   INSTANTIATE_TEST_SUITE_P(Redis, StoreConformanceTest,
//                            ::testing::Values(RedisFactory()),
//                            StoreFactoryName);
#ifndef RELAYSYNC_TESTS_BACKENDS_STORE_STORE_CONFORMANCE_TEST_H_
#define RELAYSYNC_TESTS_BACKENDS_STORE_STORE_CONFORMANCE_TEST_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/store/store.h"
#include "gtest/gtest.h"
#include "testing/redis_server.h"
#include "testing/scratch_dir.h"

namespace relaysync::testing {

struct StoreFactory {
  std::string name;  // a test-name suffix: letters, digits, '_'
  // Makes a fresh, empty store whose change log keeps `change_log_limit`
  // changes. `scratch_dir` is an empty directory that outlives the store;
  // a store that keeps no files can use its unique path as a namespace.
  std::function<absl::StatusOr<std::unique_ptr<Store>>(
      const std::string& scratch_dir, size_t change_log_limit)>
      make;
};

// Distinct IPv4 addresses for indices up to 2^24, for every store test.
std::string Addr(int i);

// The attribution of the admin adds in store tests.
inline const Attribution kByAdmin{kAdminHost, "spiffe://example.org/admin/t"};

// The snapshot as address -> ticks; fails the test on an error or on an
// address listed twice. Inline, for store tests outside the suite too.
inline std::map<std::string, int64_t> Entries(Store& store) {
  std::map<std::string, int64_t> out;
  absl::StatusOr<Snapshot> snapshot = store.ReadSnapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  if (!snapshot.ok()) return out;
  for (const StateEntry& e : snapshot->entries) {
    EXPECT_TRUE(out.emplace(e.address, e.ticks).second) << e.address;
  }
  return out;
}

// The one durable (appendonly, as docs/redis.md recommends) redis-server
// of a test program's Redis store tests, each store under a prefix of its
// own: started on first use, and again if a test stopped it.
inline RedisServer& SharedRedisServer() {
  static RedisServer server([] {
    RedisServerOptions options;
    options.appendonly = true;
    return options;
  }());
  if (!server.running()) {
    const absl::Status started = server.Start();
    EXPECT_TRUE(started.ok()) << started;
  }
  return server;
}

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info);
// So that test listings show the name, not the bytes.
void PrintTo(const StoreFactory& factory, std::ostream* os);

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;

  // Another fresh store, alive until the test ends; nullptr (and a test
  // failure) if it cannot be made.
  Store* NewStore(size_t change_log_limit = 100000);

  // Every change after `since`; fails the test on error.
  static std::vector<StateChange> Changes(Store& store, uint64_t since);

  // Declared before the stores so that they are removed after them.
  std::vector<std::unique_ptr<ScratchDir>> dirs_;
  std::vector<std::unique_ptr<Store>> stores_;
  Store* store_ = nullptr;  // the first store, made by SetUp
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_BACKENDS_STORE_STORE_CONFORMANCE_TEST_H_
