#include "tests/backends/store/store_conformance_test.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "backends/store/relay_record.h"
#include "gmock/gmock.h"

namespace relaysync::testing {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNone = INT64_MIN;  // no cut-off
constexpr int64_t kT = 1700000000;

std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

void StoreConformanceTest::SetUp() {
  store_ = NewStore();
  ASSERT_NE(store_, nullptr);
}

Store* StoreConformanceTest::NewStore(size_t change_log_limit) {
  dirs_.push_back(std::make_unique<ScratchDir>());
  absl::StatusOr<std::unique_ptr<Store>> store =
      GetParam().make(dirs_.back()->path(), change_log_limit);
  if (!store.ok() || *store == nullptr) {
    ADD_FAILURE() << "making a " << GetParam().name
                  << " store: " << store.status();
    return nullptr;
  }
  stores_.push_back(std::move(*store));
  return stores_.back().get();
}

namespace {

// The value, or a test failure and T{}.
template <typename T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : T{};
}

// Changes as text, so that a mismatch prints readably.
std::string Describe(const StateChange& c) {
  return c.removed ? absl::StrCat("v", c.version, " ", c.address, " removed")
                   : absl::StrCat("v", c.version, " ", c.address, " ", c.ticks);
}

std::vector<std::string> Describe(const std::vector<StateChange>& changes) {
  std::vector<std::string> out;
  for (const StateChange& c : changes) out.push_back(Describe(c));
  return out;
}

// The same without versions, for checks of what changed.
std::vector<std::string> What(const std::vector<StateChange>& changes) {
  std::vector<std::string> out;
  for (const StateChange& c : changes) {
    out.push_back(c.removed ? absl::StrCat(c.address, " removed")
                            : absl::StrCat(c.address, " ", c.ticks));
  }
  return out;
}

MutationResult Merge(Store& store, std::vector<Login> logins,
                     int64_t not_after = kNone) {
  return Must(store.MergeLogins(logins, not_after));
}

}  // namespace

std::string Addr(int i) {
  return absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".",
                      i & 255);
}

std::vector<StateChange> StoreConformanceTest::Changes(Store& store,
                                                       uint64_t since) {
  return Must(store.ChangesSince(since, SIZE_MAX));
}

TEST_P(StoreConformanceTest, MergeKeepsTheLaterLogin) {
  MutationResult r = Merge(*store_, {{"10.0.0.1", kT}});
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].address, "10.0.0.1");
  EXPECT_EQ(r.changes[0].ticks, kT);
  EXPECT_FALSE(r.changes[0].removed);

  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT - 10}}).changes, IsEmpty());
  r = Merge(*store_, {{"10.0.0.1", kT + 10}});
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].ticks, kT + 10);
  EXPECT_THAT(Entries(*store_), ElementsAre(Pair("10.0.0.1", kT + 10)));
}

TEST_P(StoreConformanceTest, MergeIsIdempotentAndOrderIndependent) {
  std::vector<Login> logins;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 40; ++i) {
    Login l{Addr(i % 7), kT + (i * 37) % 101};
    expected[l.address] = std::max(expected[l.address], l.login_time);
    logins.push_back(l);
  }
  Merge(*store_, logins);

  Store* reversed_store = NewStore();
  ASSERT_NE(reversed_store, nullptr);
  Store& reversed = *reversed_store;
  std::vector<Login> twice(logins.rbegin(), logins.rend());
  twice.insert(twice.end(), logins.begin(), logins.end());
  for (size_t i = 0; i < twice.size(); i += 7) {
    Merge(reversed,
          std::vector<Login>(twice.begin() + i,
                             twice.begin() + std::min(i + 7, twice.size())));
  }

  Store* shuffled_store = NewStore();
  ASSERT_NE(shuffled_store, nullptr);
  Store& shuffled = *shuffled_store;
  std::shuffle(logins.begin(), logins.end(), std::mt19937(7));
  for (const Login& l : logins) Merge(shuffled, {l});
  Merge(shuffled, logins);

  EXPECT_EQ(Entries(*store_), expected);
  EXPECT_EQ(Entries(reversed), expected);
  EXPECT_EQ(Entries(shuffled), expected);
}

TEST_P(StoreConformanceTest, LoginsAtOrBeforeCutoffAreDropped) {
  MutationResult r = Merge(
      *store_, {{"10.0.0.1", kT - 1}, {"10.0.0.2", kT}, {"10.0.0.3", kT + 1}},
      /*not_after=*/kT);
  EXPECT_EQ(r.changes.size(), 1u);
  EXPECT_THAT(Entries(*store_), ElementsAre(Pair("10.0.0.3", kT + 1)));
}

TEST_P(StoreConformanceTest, PutSetsExactTicksEvenEarlier) {
  Merge(*store_, {{"10.0.0.1", kT + 100}});
  MutationResult r = Must(store_->Put("10.0.0.1", kT, kByAdmin));
  EXPECT_THAT(What(r.changes), ElementsAre(absl::StrCat("10.0.0.1 ", kT)));
  EXPECT_THAT(Must(store_->Put("10.0.0.1", kT, kByAdmin)).changes, IsEmpty());
  EXPECT_EQ(Must(store_->Put("10.0.0.2", kT + 5000, kByAdmin)).changes.size(),
            1u);
  EXPECT_THAT(Entries(*store_),
              ElementsAre(Pair("10.0.0.1", kT), Pair("10.0.0.2", kT + 5000)));
  // After an admin add, a later login still wins.
  Merge(*store_, {{"10.0.0.1", kT + 50}});
  EXPECT_EQ(Entries(*store_)["10.0.0.1"], kT + 50);
}

TEST_P(StoreConformanceTest, PutAtTheEpochIsPresentUntilExpiredOrDeleted) {
  // vsmtprelay add ip 0: a record {0, 0} is absent, so Put must lower the
  // delete time below 0.
  EXPECT_THAT(What(Must(store_->Put("10.0.0.1", 0, kByAdmin)).changes),
              ElementsAre("10.0.0.1 0"));
  Must(store_->Put("10.0.0.2", 0, kByAdmin));
  EXPECT_THAT(Entries(*store_),
              ElementsAre(Pair("10.0.0.1", 0), Pair("10.0.0.2", 0)));
  EXPECT_EQ(Must(store_->CountLaterThan(-1)), 2);
  EXPECT_THAT(What(Must(store_->Expire(0, kNone)).changes),
              UnorderedElementsAre("10.0.0.1 removed", "10.0.0.2 removed"));
  Must(store_->Put("10.0.0.1", 0, kByAdmin));
  EXPECT_THAT(Must(store_->Delete({"10.0.0.1"}, kT)).missing, IsEmpty());
  EXPECT_THAT(Entries(*store_), IsEmpty());
}

TEST_P(StoreConformanceTest, CountLaterThanCountsOnlyPresentLaterEntries) {
  EXPECT_EQ(Must(store_->CountLaterThan(kT)), 0);
  Merge(*store_, {{"10.0.0.1", kT}, {"10.0.0.2", kT + 10}});
  Must(store_->Put("10.0.0.3", kT + 1000000, kByAdmin));
  Must(store_->Put("10.0.0.4", kT + 2000000, kByAdmin));
  EXPECT_EQ(Must(store_->CountLaterThan(kT - 1)), 4);
  EXPECT_EQ(Must(store_->CountLaterThan(kT)), 3);
  EXPECT_EQ(Must(store_->CountLaterThan(kT + 100)), 2);
  EXPECT_EQ(Must(store_->CountLaterThan(kT + 2000000)), 0);
  Must(store_->Delete({"10.0.0.4"}, kT + 100));
  EXPECT_EQ(Must(store_->CountLaterThan(kT + 100)), 1);
}

TEST_P(StoreConformanceTest, DeleteRemovesAndOldLoginsCannotReturn) {
  Merge(*store_, {{"10.0.0.1", kT}});
  MutationResult r = Must(store_->Delete({"10.0.0.1"}, kT + 100));
  EXPECT_THAT(What(r.changes), ElementsAre("10.0.0.1 removed"));
  EXPECT_THAT(r.missing, IsEmpty());
  // A re-sent or delayed login at or before the delete time stays out.
  for (int64_t t : {kT, kT + 50, kT + 100}) {
    EXPECT_THAT(Merge(*store_, {{"10.0.0.1", t}}).changes, IsEmpty()) << t;
  }
  EXPECT_THAT(Entries(*store_), IsEmpty());
}

TEST_P(StoreConformanceTest, DeleteRemovesFutureDatedEntries) {
  Merge(*store_, {{"10.0.0.1", kT + 1000}});
  EXPECT_EQ(Must(store_->Delete({"10.0.0.1"}, kT)).changes.size(), 1u);
  EXPECT_THAT(Entries(*store_), IsEmpty());
  // The delete covers the entry's own timestamp, not just `now`.
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT + 500}}).changes, IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT + 1000}}).changes, IsEmpty());
  EXPECT_EQ(Merge(*store_, {{"10.0.0.1", kT + 1001}}).changes.size(), 1u);
}

TEST_P(StoreConformanceTest, NewerLoginAfterDeleteReturns) {
  Merge(*store_, {{"10.0.0.1", kT}});
  Must(store_->Delete({"10.0.0.1"}, kT + 100));
  MutationResult r = Merge(*store_, {{"10.0.0.1", kT + 101}});
  EXPECT_THAT(What(r.changes),
              ElementsAre(absl::StrCat("10.0.0.1 ", kT + 101)));
  EXPECT_THAT(Entries(*store_), ElementsAre(Pair("10.0.0.1", kT + 101)));
}

TEST_P(StoreConformanceTest, DeleteReportsMissing) {
  Merge(*store_, {{"10.0.0.1", kT}});
  MutationResult r = Must(store_->Delete({"10.0.0.1", "10.0.0.2"}, kT));
  EXPECT_THAT(What(r.changes), ElementsAre("10.0.0.1 removed"));
  EXPECT_THAT(r.missing, ElementsAre("10.0.0.2"));
  r = Must(store_->Delete({"10.0.0.1"}, kT));
  EXPECT_THAT(r.changes, IsEmpty());
  EXPECT_THAT(r.missing, ElementsAre("10.0.0.1"));
}

TEST_P(StoreConformanceTest, ExpireRemovesAtOrBeforeCutoff) {
  Merge(*store_,
        {{"10.0.0.1", kT - 1}, {"10.0.0.2", kT}, {"10.0.0.3", kT + 1}});
  MutationResult r = Must(store_->Expire(/*cutoff=*/kT, kNone));
  std::vector<std::string> removed;
  for (const StateChange& c : r.changes) {
    EXPECT_TRUE(c.removed) << Describe(c);
    removed.push_back(c.address);
  }
  EXPECT_THAT(removed, UnorderedElementsAre("10.0.0.1", "10.0.0.2"));
  EXPECT_THAT(Entries(*store_), ElementsAre(Pair("10.0.0.3", kT + 1)));
  EXPECT_THAT(Must(store_->Expire(kT, kNone)).changes, IsEmpty());
}

TEST_P(StoreConformanceTest, ExpiredEntryNotRevivedByResentLogin) {
  Merge(*store_, {{"10.0.0.1", kT}});
  Must(store_->Expire(kT, kNone));
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT}}).changes, IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT - 5}}).changes, IsEmpty());
  EXPECT_THAT(Entries(*store_), IsEmpty());
  EXPECT_EQ(Merge(*store_, {{"10.0.0.1", kT + 1}}).changes.size(), 1u);
}

TEST_P(StoreConformanceTest, ExpireForgetsTombstonesAtOrBeforeForgetBefore) {
  Merge(*store_, {{"10.0.0.1", kT}});
  Must(store_->Delete({"10.0.0.1"}, kT + 10));
  const uint64_t version = Must(store_->Version());
  EXPECT_THAT(Must(store_->Expire(kNone, kT + 9)).changes, IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT + 5}}).changes, IsEmpty());
  // Forgotten: the record is as if never seen, so only the coordinator's
  // not_after cut-off keeps old logins out from now on.
  EXPECT_THAT(Must(store_->Expire(kNone, kT + 10)).changes, IsEmpty());
  EXPECT_EQ(Must(store_->Version()), version);
  EXPECT_EQ(Merge(*store_, {{"10.0.0.1", kT + 5}}).changes.size(), 1u);
}

TEST_P(StoreConformanceTest, VersionsAreDenseAndIncreasing) {
  const uint64_t v0 = Must(store_->Version());
  std::vector<StateChange> all;
  auto add = [&all](MutationResult r) {
    all.insert(all.end(), r.changes.begin(), r.changes.end());
  };
  add(Merge(*store_, {{Addr(1), kT}, {Addr(2), kT}, {Addr(3), kT}}));
  add(Merge(*store_, {{Addr(1), kT}}));
  add(Must(store_->Put(Addr(4), kT + 7, kByAdmin)));
  add(Must(store_->Delete({Addr(1), Addr(2), Addr(9)}, kT + 1)));
  add(Merge(*store_, {{Addr(3), kT + 2}, {Addr(3), kT + 3}}));
  add(Must(store_->Expire(kT + 2, kNone)));
  ASSERT_EQ(all.size(), 8u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, v0 + 1 + i) << Describe(all[i]);
  }
  EXPECT_EQ(Must(store_->Version()), v0 + all.size());
}

TEST_P(StoreConformanceTest, ChangesSinceReturnsOrderedDeltas) {
  const uint64_t v0 = Must(store_->Version());
  std::vector<StateChange> all;
  for (MutationResult r :
       {Merge(*store_, {{Addr(1), kT}, {Addr(2), kT + 1}}),
        Must(store_->Put(Addr(1), kT - 5, kByAdmin)),
        Must(store_->Delete({Addr(2)}, kT + 10)),
        Merge(*store_, {{Addr(3), kT + 20}, {Addr(2), kT + 30}})}) {
    all.insert(all.end(), r.changes.begin(), r.changes.end());
  }
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(Describe(Changes(*store_, v0)), Describe(all));
  EXPECT_EQ(
      Describe(Must(store_->ChangesSince(v0 + 2, 3))),
      Describe(std::vector<StateChange>(all.begin() + 2, all.begin() + 5)));
  // From inside one mutation's changes, and up to the middle of another's
  // (Redis logs a mutation as one entry).
  EXPECT_EQ(Describe(Changes(*store_, v0 + 1)),
            Describe(std::vector<StateChange>(all.begin() + 1, all.end())));
  EXPECT_EQ(
      Describe(Must(store_->ChangesSince(v0 + 1, 4))),
      Describe(std::vector<StateChange>(all.begin() + 1, all.begin() + 5)));
  EXPECT_THAT(Must(store_->ChangesSince(v0 + 2, 0)), IsEmpty());
  EXPECT_THAT(Changes(*store_, v0 + 6), IsEmpty());
}

// The coordinator merges from several threads at once (two on Redis):
// every login lands, and the change log stays one gapless sequence.
TEST_P(StoreConformanceTest, ConcurrentMergesLoseNothing) {
  constexpr int kThreads = 4, kBatches = 25, kBatch = 40;
  const uint64_t v0 = Must(store_->Version());
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Login> logins;
        for (int i = 0; i < kBatch; ++i) {
          // Threads overlap on half the addresses, so merges compete.
          const int n = (t % 2) * 100000 + b * kBatch + i;
          logins.push_back({Addr(n), kT + t});
        }
        absl::StatusOr<MutationResult> r = store_->MergeLogins(logins, kNone);
        if (!r.ok()) errors[t] = std::string(r.status().message());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  std::map<std::string, int64_t> entries = Entries(*store_);
  ASSERT_EQ(entries.size(), 2u * kBatches * kBatch);
  // The later login (higher thread number of each overlapping pair) wins.
  EXPECT_EQ(entries[Addr(0)], kT + 2);
  EXPECT_EQ(entries[Addr(100000)], kT + 3);
  const std::vector<StateChange> log = Changes(*store_, v0);
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(log[i].version, v0 + 1 + i);
  }
  EXPECT_EQ(Must(store_->Version()), v0 + log.size());
  EXPECT_EQ(Must(store_->EntryCount()), static_cast<int64_t>(entries.size()));
}

TEST_P(StoreConformanceTest, ChangesSinceTooOldIsOutOfRange) {
  Store* small_log = NewStore(/*change_log_limit=*/3);
  ASSERT_NE(small_log, nullptr);
  Store& store = *small_log;
  for (int i = 0; i < 10; ++i) Merge(store, {{Addr(i), kT}});
  Merge(store, {{Addr(20), kT}, {Addr(21), kT}, {Addr(22), kT}});
  const uint64_t v = Must(store.Version());
  EXPECT_EQ(Changes(store, v - 3).size(), 3u);
  for (uint64_t since : {v - 4, uint64_t{0}, v + 1}) {
    absl::StatusOr<std::vector<StateChange>> changes =
        store.ChangesSince(since, 100);
    EXPECT_TRUE(absl::IsOutOfRange(changes.status()))
        << "since " << since << ": " << changes.status();
  }
}

namespace {

// Applies a reproducible random mix of every mutation to `store`, and the
// same RelayRecord rules to `model`, checking each result against it.
void RandomMutations(Store& store, std::map<std::string, RelayRecord>* model) {
  std::mt19937 rng(42);
  auto pick = [&rng](int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng);
  };
  for (int step = 0; step < 300; ++step) {
    const int kind = pick(10);
    size_t expected = 0;
    MutationResult r;
    if (kind < 5) {
      std::vector<Login> logins;
      for (int n = 1 + pick(5); n > 0; --n) {
        logins.push_back({Addr(pick(20)), kT + pick(200)});
      }
      const int64_t not_after = pick(3) == 0 ? kT + pick(100) : kNone;
      r = Merge(store, logins, not_after);
      for (const Login& l : logins) {
        if (l.login_time > not_after &&
            (*model)[l.address].MergeLogin(l.login_time)) {
          ++expected;
        }
      }
    } else if (kind < 7) {
      const std::string address = Addr(pick(20));
      const int64_t ticks = kT + pick(200);
      r = Must(store.Put(address, ticks, kByAdmin));
      expected = (*model)[address].Put(ticks) ? 1 : 0;
    } else if (kind < 9) {
      std::vector<std::string> addresses;
      for (int n = 1 + pick(3); n > 0; --n) addresses.push_back(Addr(pick(20)));
      const int64_t now = kT + pick(200);
      r = Must(store.Delete(addresses, now));
      std::vector<std::string> missing;
      for (const std::string& a : addresses) {
        if ((*model)[a].Delete(now)) {
          ++expected;
        } else {
          missing.push_back(a);
        }
      }
      EXPECT_EQ(r.missing, missing) << "step " << step;
    } else {
      const int64_t cutoff = kT + pick(100);
      const int64_t forget_before = kT + pick(50);
      r = Must(store.Expire(cutoff, forget_before));
      for (auto it = model->begin(); it != model->end();) {
        if (it->second.Expire(cutoff)) ++expected;
        if (!it->second.present() && it->second.delete_time <= forget_before) {
          it = model->erase(it);
        } else {
          ++it;
        }
      }
    }
    EXPECT_EQ(r.changes.size(), expected) << "step " << step;
  }
}

std::map<std::string, int64_t> Present(
    const std::map<std::string, RelayRecord>& model) {
  std::map<std::string, int64_t> out;
  for (const auto& [address, rec] : model) {
    if (rec.present()) out[address] = rec.login_time;
  }
  return out;
}

}  // namespace

TEST_P(StoreConformanceTest, StateFollowsTheRelayRecordRules) {
  std::map<std::string, RelayRecord> model;
  RandomMutations(*store_, &model);
  EXPECT_EQ(Entries(*store_), Present(model));
  EXPECT_EQ(Must(store_->EntryCount()),
            static_cast<int64_t>(Present(model).size()));
}

TEST_P(StoreConformanceTest, ExpireOnlyTouchesWhatIsDue) {
  // 400 addresses over 200 login times (two per time), merged out of
  // order; every tenth deleted, leaving tombstones to forget.
  std::map<std::string, RelayRecord> model;
  std::vector<Login> logins;
  for (int i = 0; i < 400; ++i) logins.push_back({Addr(i), kT + i * 37 % 200});
  std::shuffle(logins.begin(), logins.end(), std::mt19937(3));
  for (size_t i = 0; i < logins.size(); i += 50) {
    Merge(*store_,
          std::vector<Login>(logins.begin() + i, logins.begin() + i + 50));
  }
  for (const Login& l : logins) model[l.address].MergeLogin(l.login_time);
  std::vector<std::string> deleted;
  for (int i = 0; i < 400; i += 10) deleted.push_back(Addr(i));
  Must(store_->Delete(deleted, kT + 100));
  for (const std::string& a : deleted) model[a].Delete(kT + 100);

  // Expires the model too; the store must remove exactly what it does.
  auto step = [&](int64_t cutoff, int64_t forget_before) {
    SCOPED_TRACE(
        absl::StrCat("cutoff ", cutoff, ", forget_before ", forget_before));
    std::vector<std::string> due;
    for (auto it = model.begin(); it != model.end();) {
      if (it->second.Expire(cutoff)) due.push_back(it->first);
      if (!it->second.present() && it->second.delete_time <= forget_before) {
        it = model.erase(it);
      } else {
        ++it;
      }
    }
    const uint64_t version = Must(store_->Version());
    std::vector<std::string> removed;
    for (const StateChange& c :
         Must(store_->Expire(cutoff, forget_before)).changes) {
      EXPECT_TRUE(c.removed) << Describe(c);
      removed.push_back(c.address);
    }
    std::sort(removed.begin(), removed.end());
    EXPECT_EQ(removed, due);
    EXPECT_EQ(Must(store_->Version()), version + due.size());
    EXPECT_EQ(Entries(*store_), Present(model));
    EXPECT_EQ(Must(store_->EntryCount()),
              static_cast<int64_t>(Present(model).size()));
  };
  step(kT - 1, kNone);  // nothing is due
  step(kT, kNone);      // the earliest time only
  step(kT + 13, kNone);
  step(kT + 13, kNone);
  // Moving entries (Addr(i) logged in at kT + i * 37 % 200): an admin add
  // to an earlier time, even one already past, makes an entry due sooner;
  // an admin add or login to a later time, later; an older login, nothing.
  for (auto [address, ticks] :
       {std::pair(Addr(3), kT + 20), std::pair(Addr(8), kT + 14),
        std::pair(Addr(4), kT + 5), std::pair(Addr(2), kT + 170)}) {
    Must(store_->Put(address, ticks, kByAdmin));
    model[address].Put(ticks);
  }
  for (const Login& l : {Login{Addr(9), kT + 190}, Login{Addr(1), kT + 1}}) {
    Merge(*store_, {l});
    model[l.address].MergeLogin(l.login_time);
  }
  step(kT + 60, kT + 5);
  step(kT + 150, kT + 100);
  step(kT + 180, kT + 140);
  // Tombstones: a login at kT+140 comes back exactly where the tombstone
  // was forgotten (delete time <= kT+140), and a present entry is later.
  const size_t absent = 400 - Present(model).size();
  std::vector<Login> probes;
  std::vector<std::string> back;
  for (int i = 0; i < 400; ++i) {
    probes.push_back({Addr(i), kT + 140});
    if (model[Addr(i)].MergeLogin(kT + 140)) back.push_back(Addr(i));
  }
  std::sort(back.begin(), back.end());
  ASSERT_GT(back.size(), 0u);
  ASSERT_LT(back.size(), absent);
  std::vector<std::string> returned;
  for (const StateChange& c : Merge(*store_, probes).changes) {
    returned.push_back(c.address);
  }
  std::sort(returned.begin(), returned.end());
  EXPECT_EQ(returned, back);
}

TEST_P(StoreConformanceTest, SnapshotMatchesReplayOfChanges) {
  const uint64_t v0 = Must(store_->Version());
  std::map<std::string, RelayRecord> model;
  RandomMutations(*store_, &model);
  std::map<std::string, int64_t> replayed;
  std::vector<StateChange> changes = Changes(*store_, v0);
  for (const StateChange& c : changes) {
    if (c.removed) {
      EXPECT_EQ(replayed.erase(c.address), 1u) << Describe(c);
    } else {
      replayed[c.address] = c.ticks;
    }
  }
  Snapshot snapshot = Must(store_->ReadSnapshot());
  EXPECT_EQ(snapshot.version, v0 + changes.size());
  EXPECT_EQ(snapshot.version, Must(store_->Version()));
  EXPECT_EQ(snapshot.epoch, store_->Epoch());
  EXPECT_EQ(Entries(*store_), replayed);
}

TEST_P(StoreConformanceTest, NoChangeNoVersion) {
  Merge(*store_, {{"10.0.0.1", kT}});
  Must(store_->Delete({"10.0.0.2"}, kT));
  const uint64_t v = Must(store_->Version());
  EXPECT_THAT(Merge(*store_, {}).changes, IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.1", kT}, {"10.0.0.1", kT - 1}}).changes,
              IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.3", kT}}, kT).changes, IsEmpty());
  EXPECT_THAT(Merge(*store_, {{"10.0.0.2", kT}}).changes, IsEmpty());
  EXPECT_THAT(Must(store_->Put("10.0.0.1", kT, kByAdmin)).changes, IsEmpty());
  EXPECT_THAT(Must(store_->Delete({"10.0.0.4"}, kT)).changes, IsEmpty());
  EXPECT_THAT(Must(store_->Expire(kT - 1, kNone)).changes, IsEmpty());
  EXPECT_EQ(Must(store_->Version()), v);
  EXPECT_THAT(Changes(*store_, v), IsEmpty());
}

TEST_P(StoreConformanceTest, EntryCount) {
  EXPECT_EQ(Must(store_->EntryCount()), 0);
  Merge(*store_, {{Addr(1), kT}, {Addr(2), kT + 1}, {Addr(3), kT + 2}});
  Merge(*store_, {{Addr(1), kT + 5}});
  EXPECT_EQ(Must(store_->EntryCount()), 3);
  Must(store_->Delete({Addr(2), Addr(7)}, kT));
  EXPECT_EQ(Must(store_->EntryCount()), 2);
  Must(store_->Expire(kT + 2, kNone));
  EXPECT_EQ(Must(store_->EntryCount()), 1);
  Must(store_->Put(Addr(2), kT, kByAdmin));
  EXPECT_EQ(Must(store_->EntryCount()), 2);
  EXPECT_EQ(Entries(*store_).size(), 2u);
}

TEST_P(StoreConformanceTest, EmptyAddressIsInvalid) {
  const uint64_t v0 = Must(store_->Version());
  EXPECT_TRUE(absl::IsInvalidArgument(
      store_->MergeLogins({{"10.0.0.1", kT}, {"", kT}}, kNone).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Put("", kT, kByAdmin).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(store_->Delete({"10.0.0.1", ""}, kT).status()));
  // Nothing of the rejected batch was applied.
  EXPECT_THAT(Entries(*store_), IsEmpty());
  EXPECT_EQ(Must(store_->Version()), v0);
}

TEST_P(StoreConformanceTest, FreshStoresHaveDistinctEpochs) {
  EXPECT_FALSE(store_->Epoch().empty());
  EXPECT_EQ(Must(store_->ReadSnapshot()).epoch, store_->Epoch());
  Store* other = NewStore();
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(other->Epoch().empty());
  EXPECT_NE(other->Epoch(), store_->Epoch());
}

// How the coordinator learns every commit (coordinator/change_feed.h).
TEST_P(StoreConformanceTest, WaitForChangeReturnsTheVersionOfACommit) {
  const uint64_t v0 = Must(store_->Version());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Merge(*store_, {{"10.0.0.1", kT}});
  });
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> woken = store_->WaitForChange(v0, absl::Seconds(20));
  writer.join();
  ASSERT_TRUE(woken.ok()) << woken.status();
  EXPECT_EQ(*woken, v0 + 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_P(StoreConformanceTest, WaitForChangeReturnsAtOnceWhenAlreadyPast) {
  const uint64_t v0 = Must(store_->Version());
  Merge(*store_, {{"10.0.0.1", kT}, {"10.0.0.2", kT}});
  absl::StatusOr<uint64_t> v = store_->WaitForChange(v0, absl::Seconds(20));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, v0 + 2);
}

TEST_P(StoreConformanceTest, WaitForChangeWithoutACommitWaitsOutTheTimeout) {
  const uint64_t v0 = Must(store_->Version());
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> v =
      store_->WaitForChange(v0, absl::Milliseconds(200));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, v0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
}

}  // namespace relaysync::testing
