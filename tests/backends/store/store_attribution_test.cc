// The attribution part of the Store conformance suite (docs/state.md,
// "Attribution"): a record keeps who set its timestamp. Compiled into each
// backend's test with store_conformance_test.cc, so it runs against every
// store.
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "tests/backends/store/store_conformance_test.h"

namespace relaysync::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr int64_t kNone = INT64_MIN;
constexpr int64_t kT = 1700000000;
const Attribution kAlice{"mx1", "alice"};
const Attribution kBob{"mx2", "bob"};
const Attribution kEve{"mx3", "eve"};

// The value, or a test failure and T{}.
template <typename T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : T{};
}

MutationResult Merge(Store& store, std::vector<Login> logins,
                     int64_t not_after = kNone) {
  absl::StatusOr<MutationResult> r = store.MergeLogins(logins, not_after);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : MutationResult{};
}

// ReadAttributed as address -> who; fails the test on error.
std::map<std::string, Attribution> Who(Store& store) {
  absl::StatusOr<std::vector<AttributedEntry>> entries = store.ReadAttributed();
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::map<std::string, Attribution> out;
  if (!entries.ok()) return out;
  for (const AttributedEntry& e : *entries) {
    EXPECT_TRUE(out.emplace(e.address, e.who).second) << e.address;
  }
  return out;
}

TEST_P(StoreConformanceTest, AttributionFollowsTheLaterLogin) {
  Merge(*store_, {{"10.0.0.1", kT, kAlice}});
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", kAlice)));
  Merge(*store_, {{"10.0.0.1", kT + 10, kBob}});
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", kBob)));
}

TEST_P(StoreConformanceTest, EarlierOrEqualLoginKeepsTheAttribution) {
  Merge(*store_, {{"10.0.0.1", kT, kAlice}});
  const uint64_t v = Must(store_->Version());
  Merge(*store_, {{"10.0.0.1", kT - 10, kBob}});
  // A tie keeps the first: a re-sent login, from anywhere, writes nothing.
  Merge(*store_, {{"10.0.0.1", kT, kEve}});
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", kAlice)));
  EXPECT_EQ(Must(store_->Version()), v);
}

TEST_P(StoreConformanceTest, WithinABatchTheFirstOfTheLatestLoginsWins) {
  Merge(*store_, {{"10.0.0.1", kT, kAlice},
                  {"10.0.0.1", kT + 5, kBob},
                  {"10.0.0.1", kT + 5, kEve},
                  {"10.0.0.1", kT + 1, kEve},
                  {"10.0.0.2", kT, kEve},
                  {"10.0.0.2", kT, kAlice}});
  EXPECT_THAT(Who(*store_),
              ElementsAre(Pair("10.0.0.1", kBob), Pair("10.0.0.2", kEve)));
}

TEST_P(StoreConformanceTest, AdminAddTakesTheAttributionUntilALaterLogin) {
  Merge(*store_, {{"10.0.0.1", kT, kAlice}});
  // Even at the same ticks, which is no visible change.
  EXPECT_THAT(Must(store_->Put("10.0.0.1", kT, kByAdmin)).changes, IsEmpty());
  Must(store_->Put("10.0.0.2", kT + 100, kByAdmin));
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", kByAdmin),
                                        Pair("10.0.0.2", kByAdmin)));
  // An earlier login does not replace it; a later one does.
  Merge(*store_, {{"10.0.0.2", kT + 50, kAlice}, {"10.0.0.1", kT + 1, kBob}});
  EXPECT_THAT(Who(*store_),
              ElementsAre(Pair("10.0.0.1", kBob), Pair("10.0.0.2", kByAdmin)));
}

TEST_P(StoreConformanceTest, ReadAttributedListsWhatTheSnapshotHolds) {
  Merge(*store_, {{Addr(1), kT, kAlice}, {Addr(2), kT + 1}, {Addr(3), kT}});
  Must(store_->Put(Addr(4), kT + 9, kByAdmin));
  Must(store_->Delete({Addr(3)}, kT + 2));
  // A login after its delete time brings Addr(3) back, attributed; one
  // before it moves the tombstone's login time but shows nothing.
  Merge(*store_, {{Addr(3), kT + 3, kBob}, {Addr(5), kT, kEve}});
  Must(store_->Delete({Addr(5)}, kT + 20));
  Merge(*store_, {{Addr(5), kT + 10, kAlice}});
  absl::StatusOr<std::vector<AttributedEntry>> read = store_->ReadAttributed();
  ASSERT_TRUE(read.ok()) << read.status();
  std::map<std::string, int64_t> ticks;
  for (const AttributedEntry& e : *read) ticks[e.address] = e.ticks;
  EXPECT_EQ(ticks, Entries(*store_));
  EXPECT_THAT(Who(*store_),
              ElementsAre(Pair(Addr(1), kAlice), Pair(Addr(2), Attribution{}),
                          Pair(Addr(3), kBob), Pair(Addr(4), kByAdmin)));
}

TEST_P(StoreConformanceTest, AttributionKeepsAnyBytesUpToTheLimit) {
  // Line breaks, a terminal escape, NUL, invalid UTF-8; padded with
  // spaces to the limit.
  static constexpr char kBytes[] = "x\n10.9.9.9\t1\n\x1b[2J\0\xff\xc3";
  std::string user(kBytes, sizeof(kBytes) - 1);
  user.resize(kMaxAttributionField, ' ');
  const Attribution hostile{std::string(kMaxAttributionField, 'h'), user};
  Merge(*store_, {{"10.0.0.1", kT, hostile}});
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", hostile)));
  Attribution too_long = kAlice;
  too_long.user.assign(kMaxAttributionField + 1, 'u');
  EXPECT_TRUE(absl::IsInvalidArgument(
      store_->MergeLogins({{"10.0.0.2", kT, too_long}}, kNone).status()));
  too_long = Attribution{std::string(kMaxAttributionField + 1, 'h'), ""};
  EXPECT_TRUE(
      absl::IsInvalidArgument(store_->Put("10.0.0.2", kT, too_long).status()));
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", hostile)));
}

TEST_P(StoreConformanceTest, ForgottenRecordForgetsItsAttribution) {
  Merge(*store_, {{"10.0.0.1", kT, kAlice}});
  Must(store_->Expire(kT, kT));  // expired and forgotten at once
  // Back through a login that carries none (an older agent's).
  Merge(*store_, {{"10.0.0.1", kT + 1}});
  EXPECT_THAT(Who(*store_), ElementsAre(Pair("10.0.0.1", Attribution{})));
}

}  // namespace
}  // namespace relaysync::testing
