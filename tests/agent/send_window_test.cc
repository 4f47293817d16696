#include "agent/send_window.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

SpooledLogin Login(uint64_t seq) {
  SpooledLogin p;
  p.sequence = seq;
  p.event_id = absl::StrCat("h/", seq);
  p.login.address = absl::StrCat("10.0.", seq / 250, ".", seq % 250);
  return p;
}

// The spool's pending logins first..last, oldest first.
std::vector<SpooledLogin> Pending(uint64_t first, uint64_t last) {
  std::vector<SpooledLogin> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(Login(s));
  return out;
}

std::vector<uint64_t> Sequences(const std::vector<const SpooledLogin*>& v) {
  std::vector<uint64_t> out;
  for (const SpooledLogin* p : v) out.push_back(p->sequence);
  return out;
}

TEST(SendWindowTest, SendsEachPendingLoginOnce) {
  SendWindow w;
  std::vector<SpooledLogin> pending = Pending(1, 3);
  EXPECT_EQ(Sequences(w.Next(pending, 10)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(w.Next(pending, 10).empty()) << "nothing new";
  pending = Pending(2, 5);  // 1 acknowledged, 4 and 5 logged in
  EXPECT_EQ(Sequences(w.Next(pending, 10)), (std::vector<uint64_t>{4, 5}));
}

TEST(SendWindowTest, SendsAtMostTheLimitAndTheRestNextTime) {
  SendWindow w;
  std::vector<SpooledLogin> pending = Pending(1, 5);
  EXPECT_EQ(Sequences(w.Next(pending, 2)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Sequences(w.Next(pending, 2)), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(Sequences(w.Next(pending, 2)), (std::vector<uint64_t>{5}));
}

TEST(SendWindowTest, DeferredLoginsAreSentAgainInOrder) {
  SendWindow w;
  std::vector<SpooledLogin> pending = Pending(1, 4);
  ASSERT_EQ(w.Next(pending, 10).size(), 4u);
  w.Deferred({"h/2", "h/3"});
  pending = Pending(2, 6);  // 1 acknowledged; 5, 6 new
  EXPECT_EQ(Sequences(w.Next(pending, 10)),
            (std::vector<uint64_t>{2, 3, 5, 6}));
  EXPECT_TRUE(w.Next(pending, 10).empty());
  EXPECT_EQ(w.remembered(), 0u);
}

TEST(SendWindowTest, ForgetsDeferredLoginsNoLongerPending) {
  SendWindow w;
  ASSERT_EQ(w.Next(Pending(1, 3), 10).size(), 3u);
  w.Deferred({"h/1", "h/2"});
  // Both dropped from the spool (acknowledged by a resend, or too old)
  // before the deferral ended.
  EXPECT_EQ(Sequences(w.Next(Pending(3, 4), 10)), (std::vector<uint64_t>{4}));
  EXPECT_EQ(w.remembered(), 0u);
}

// A long-lived stream: a million logins sent and acknowledged leave nothing
// behind (the set of sent ids this replaced grew by one per login).
TEST(SendWindowTest, MemoryDoesNotGrowWithTheLoginsSent) {
  SendWindow w;
  uint64_t acked = 0;
  bool deferred = false;
  for (uint64_t last = 1000; last <= 1'000'000; last += 1000) {
    std::vector<SpooledLogin> pending = Pending(acked + 1, last);
    // The thousand new ones, and the one deferred last time.
    ASSERT_EQ(w.Next(pending, 4000).size(), 1000u + (deferred ? 1 : 0));
    deferred = last % 10'000 == 0;
    if (deferred) w.Deferred({pending.back().event_id});
    acked = last - 500;  // the coordinator is a little behind
    ASSERT_LE(w.remembered(), 1u);
  }
}

}  // namespace
}  // namespace relaysync
