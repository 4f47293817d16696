#include "coordinator/group_commit.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "coordinator/state_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/wait.h"
#include "tests/coordinator/fake_store.h"

namespace relaysync {
namespace {

using ::testing::ElementsAre;
using testing::FakeStore;
using testing::WaitForCondition;

std::vector<Login> Logins(int from, int n) {
  std::vector<Login> out;
  for (int i = from; i < from + n; ++i) {
    out.emplace_back("10.0.0." + std::to_string(i), 1700000000);
  }
  return out;
}

class GroupCommitTest : public ::testing::Test {
 protected:
  // Records each batch's result, in the order they come.
  GroupCommit::Done Record() {
    return [this](const absl::StatusOr<uint64_t>& merged) {
      absl::MutexLock l(&mu_);
      results_.push_back(merged.ok() ? *merged : 0);
    };
  }
  std::vector<uint64_t> results() {
    absl::MutexLock l(&mu_);
    return results_;
  }

  FakeStore store_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  StateWriter writer_{&store_, &clock_, StateWriterOptions()};
  absl::Mutex mu_;
  std::vector<uint64_t> results_ ABSL_GUARDED_BY(mu_);
};

TEST_F(GroupCommitTest, BatchesQueuedDuringACommitGoInTheNextOne) {
  GroupCommit commits(&writer_, 1);
  store_.HoldMerges();
  commits.Merge(Logins(1, 2), Record());
  ASSERT_TRUE(WaitForCondition([&] { return store_.merge_sizes().size() == 1; },
                               absl::Seconds(10)));
  commits.Merge(Logins(10, 3), Record());
  commits.Merge(Logins(20, 4), Record());
  store_.ReleaseMerges();
  ASSERT_TRUE(WaitForCondition([&] { return results().size() == 3; },
                               absl::Seconds(10)));
  EXPECT_THAT(store_.merge_sizes(), ElementsAre(2, 7));
  // Each batch is told the version that covers it: its commit's last.
  EXPECT_THAT(results(), ElementsAre(2, 9, 9));
}

TEST_F(GroupCommitTest, StopCommitsWhatIsQueued) {
  GroupCommit commits(&writer_, 2);
  for (int i = 0; i < 5; ++i) commits.Merge(Logins(10 * i, 1), Record());
  commits.Stop();
  EXPECT_EQ(results().size(), 5u);
  EXPECT_EQ(*store_.Version(), 5u);
  commits.Stop();  // idempotent
}

}  // namespace
}  // namespace relaysync
