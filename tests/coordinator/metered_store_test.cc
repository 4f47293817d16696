#include "coordinator/metered_store.h"

#include <memory>
#include <string>
#include <utility>

#include "backends/store/embedded_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/metrics.h"
#include "tests/backends/store/store_conformance_test.h"
#include "tests/coordinator/fake_store.h"

namespace relaysync {
namespace {

using ::relaysync::testing::FakeStore;
using ::relaysync::testing::StoreConformanceTest;
using ::relaysync::testing::StoreFactory;
using ::testing::HasSubstr;
using ::testing::Not;

// The stores of the suite count into this one; it outlives them all.
metrics::Registry& SuiteRegistry() {
  static metrics::Registry* const registry = new metrics::Registry;
  return *registry;
}

// A MeteredStore behaves as the store it wraps: the whole Store suite.
StoreFactory MeteredEmbeddedFactory() {
  return {
      "MeteredEmbedded",
      [](const std::string& scratch_dir,
         size_t change_log_limit) -> absl::StatusOr<std::unique_ptr<Store>> {
        EmbeddedStoreOptions options;
        options.data_dir = scratch_dir + "/store";
        options.change_log_limit = change_log_limit;
        absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
            EmbeddedStore::Open(options);
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::make_unique<MeteredStore>(
            std::move(*store), &SuiteRegistry()));
      }};
}

INSTANTIATE_TEST_SUITE_P(Metered, StoreConformanceTest,
                         ::testing::Values(MeteredEmbeddedFactory()),
                         ::relaysync::testing::StoreFactoryName);

TEST(MeteredStoreTest, CountsErrorsByKindAndTellsWhetherTheStoreIsUp) {
  metrics::Registry registry;
  auto fake = std::make_unique<FakeStore>();
  FakeStore* raw = fake.get();
  MeteredStore store(std::move(fake), &registry);
  EXPECT_THAT(registry.Text(),
              HasSubstr("relaysync_coordinator_store_errors_total{kind="
                        "\"unavailable\"} 0"));
  raw->FailReads(absl::UnavailableError("redis: connection refused"));
  EXPECT_FALSE(store.Version().ok());
  EXPECT_FALSE(store.ReadSnapshot().ok());
  std::string text = registry.Text();
  EXPECT_THAT(text, HasSubstr("relaysync_coordinator_store_errors_total{kind="
                              "\"unavailable\"} 2"));
  EXPECT_THAT(text, HasSubstr("relaysync_coordinator_store_up 0"));
  raw->FailReads(absl::DataLossError("torn"));
  EXPECT_FALSE(store.Version().ok());
  raw->FailReads(absl::OkStatus());
  EXPECT_TRUE(store.Version().ok());
  text = registry.Text();
  EXPECT_THAT(text, HasSubstr("relaysync_coordinator_store_errors_total{kind="
                              "\"data_loss\"} 1"));
  EXPECT_THAT(text, HasSubstr("relaysync_coordinator_store_up 1"));
}

TEST(MeteredStoreTest, AnOldVersionIsNoError) {
  metrics::Registry registry;
  auto fake = std::make_unique<FakeStore>();
  FakeStore* raw = fake.get();
  MeteredStore store(std::move(fake), &registry);
  ASSERT_TRUE(store.Put("192.0.2.1", 1, {}).ok());
  ASSERT_TRUE(store.Put("192.0.2.2", 1, {}).ok());
  raw->TrimLogThrough(1);
  EXPECT_TRUE(absl::IsOutOfRange(store.ChangesSince(0, 10).status()));
  EXPECT_THAT(registry.Text(), Not(HasSubstr("} 1")));
}

}  // namespace
}  // namespace relaysync
