#include "agent/agent_state.h"

#include <optional>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::relaysync::testing::ScratchDir;

class AppliedStateTest : public ::testing::Test {
 protected:
  // What the file holds now ("" epoch and version 0 if none was saved).
  AgentState Saved() {
    absl::StatusOr<AgentState> state = file_.Load();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : AgentState();
  }

  ScratchDir dir_;
  AgentStateFile file_{dir_.path()};
};

TEST_F(AppliedStateTest, StartsFromTheLoadedStateAndSavesNothingUnchanged) {
  AppliedState applied(&file_, AgentState{"e1", 7, "boot", 60},
                       absl::ZeroDuration());
  EXPECT_EQ(applied.applied_version(), 7u);
  EXPECT_EQ(applied.Snapshot(), (AgentState{"e1", 7, "boot", 60}));
  ASSERT_TRUE(applied.Save().ok());
  ASSERT_TRUE(applied.MaybeSave().ok());
  EXPECT_EQ(Saved(), AgentState());  // no file written
}

TEST_F(AppliedStateTest, RecordKeepsTheBootIdAndThePolicy) {
  AppliedState applied(&file_, AgentState{"e1", 7, "boot", 60},
                       absl::ZeroDuration());
  applied.Record("e2", 9);
  EXPECT_EQ(applied.applied_version(), 9u);
  ASSERT_TRUE(applied.MaybeSave().ok());
  EXPECT_EQ(Saved(), (AgentState{"e2", 9, "boot", 60}));
}

TEST_F(AppliedStateTest, SavesAtMostEverySaveIntervalUnlessForced) {
  AppliedState applied(&file_, AgentState(), absl::Hours(1));
  applied.Record("e", 1);
  ASSERT_TRUE(applied.MaybeSave().ok());  // the first save is never late
  EXPECT_EQ(Saved().applied_version, 1u);
  applied.Record("e", 2);
  ASSERT_TRUE(applied.MaybeSave().ok());  // within the hour: not yet
  EXPECT_EQ(Saved().applied_version, 1u);
  ASSERT_TRUE(applied.Save().ok());
  EXPECT_EQ(Saved().applied_version, 2u);
}

TEST_F(AppliedStateTest, SetPolicySaysWhetherItChanged) {
  AppliedState applied(&file_, AgentState(), absl::ZeroDuration());
  EXPECT_TRUE(applied.SetPolicy(0));  // "never" differs from unknown
  EXPECT_FALSE(applied.SetPolicy(0));
  EXPECT_TRUE(applied.SetPolicy(1800));
  ASSERT_TRUE(applied.Save().ok());
  EXPECT_EQ(Saved().expire_after_seconds, std::optional<int64_t>(1800));
  EXPECT_FALSE(applied.SetPolicy(1800));
}

TEST_F(AppliedStateTest, AFailedSaveIsReported) {
  AppliedState applied(&file_, AgentState(), absl::ZeroDuration());
  applied.Record("bad\nepoch", 1);
  EXPECT_EQ(applied.Save().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace relaysync
