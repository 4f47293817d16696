#include "agent/address_table.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

using Cell = AddressTable::Cell;
constexpr int64_t kNone = AddressTable::kNone;

Address A(const std::string& text) { return *Address::Parse(text); }

bool Same(const Cell& a, const Cell& b) {
  return a.cluster == b.cluster && a.written == b.written;
}

std::map<std::string, std::pair<int64_t, int64_t>> Contents(
    const AddressTable& table) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  table.ForEach([&](const Address& a, const Cell& c) {
    EXPECT_TRUE(
        out.emplace(a.ToString(), std::make_pair(c.cluster, c.written)).second)
        << a.ToString() << " listed twice";
  });
  return out;
}

TEST(AddressTableTest, HoldsBothFamiliesAndForgetsEmptyCells) {
  AddressTable t;
  t.Set(A("10.1.2.3"), Cell{5, kNone});
  t.Set(A("2001:db8::1"), Cell{kNone, 7});
  EXPECT_TRUE(Same(t.Get(A("10.1.2.3")), Cell{5, kNone}));
  EXPECT_TRUE(Same(t.Get(A("2001:db8::1")), Cell{kNone, 7}));
  EXPECT_TRUE(t.Get(A("10.1.2.4")).empty());
  EXPECT_TRUE(t.Get(A("::ffff:10.1.2.3")).cluster == 5) << "one identity";
  EXPECT_EQ(t.size(), 2u);
  t.SetCluster(A("10.1.2.3"), kNone);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.Get(A("10.1.2.3")).empty());
  EXPECT_EQ(Contents(t).size(), 1u);
}

TEST(AddressTableTest, KeepsTimestampsBeyondThirtyTwoBits) {
  AddressTable t;
  const int64_t far = int64_t{1} << 40;
  t.Set(A("10.0.0.1"), Cell{far, 0});
  t.Set(A("10.0.0.2"), Cell{0xfffffffe, 0xfffffffd});
  t.Set(A("10.0.0.3"), Cell{0xffffffff, kNone});
  EXPECT_TRUE(Same(t.Get(A("10.0.0.1")), Cell{far, 0}));
  EXPECT_TRUE(Same(t.Get(A("10.0.0.2")), Cell{0xfffffffe, 0xfffffffd}));
  EXPECT_TRUE(Same(t.Get(A("10.0.0.3")), Cell{0xffffffff, kNone}));
  t.SetWritten(A("10.0.0.1"), 9);
  EXPECT_TRUE(Same(t.Get(A("10.0.0.1")), Cell{far, 9}));
  t.SetCluster(A("10.0.0.1"), 3);  // fits again
  EXPECT_TRUE(Same(t.Get(A("10.0.0.1")), Cell{3, 9}));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(Contents(t).size(), 3u);
}

TEST(AddressTableTest, AssignClusterKeepsTheLastOfDuplicates) {
  AddressTable t;
  t.AssignCluster({{A("10.0.0.2"), 1},
                   {A("10.0.0.1"), 2},
                   {A("10.0.0.2"), 3},
                   {A("fd00::1"), 4},
                   {A("10.0.0.2"), 5}});
  EXPECT_EQ(t.size(), 3u);
  EXPECT_TRUE(Same(t.Get(A("10.0.0.2")), Cell{5, kNone}));
  EXPECT_TRUE(Same(t.Get(A("10.0.0.1")), Cell{2, kNone}));
  EXPECT_TRUE(Same(t.Get(A("fd00::1")), Cell{4, kNone}));
}

// Random operations against a std::map, across many merges of new
// addresses into the sorted rows and compactions of dead ones.
TEST(AddressTableTest, AgreesWithAPlainMapUnderRandomChanges) {
  std::mt19937 rng(20261202);
  AddressTable t;
  std::map<std::string, std::pair<int64_t, int64_t>> want;
  auto address = [&](int i) {
    return i % 5 == 0 ? absl::StrCat("fd00::", absl::Hex(i))
                      : absl::StrCat("10.0.", i / 256, ".", i % 256);
  };
  auto ticks = [&]() -> int64_t {
    switch (rng() % 8) {
      case 0:
        return kNone;
      case 1:
        return int64_t{1} << 33;  // wide
      default:
        return 1700000000 + rng() % 1000;
    }
  };
  for (int step = 0; step < 200000; ++step) {
    const std::string text = address(static_cast<int>(rng() % 20000));
    const Address a = A(text);
    if (!want.count(text)) want[text] = {kNone, kNone};
    auto& w = want[text];
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2: {
        const int64_t c = ticks();
        t.SetCluster(a, c);
        w.first = c;
        break;
      }
      case 3:
      case 4:
      case 5: {
        const int64_t v = ticks();
        t.SetWritten(a, v);
        w.second = v;
        break;
      }
      case 6: {
        const Cell c{ticks(), ticks()};
        t.Set(a, c);
        w = {c.cluster, c.written};
        break;
      }
      default:
        t.Set(a, Cell{});
        w = {kNone, kNone};
        break;
    }
    if (w.first == kNone && w.second == kNone) want.erase(text);
    if (step % 50000 == 49999) {
      t.ClearWritten();
      for (auto it = want.begin(); it != want.end();) {
        it->second.second = kNone;
        it = it->second.first == kNone ? want.erase(it) : std::next(it);
      }
    }
    if (step % 1000 == 0) {
      const Cell got = t.Get(a);
      auto it = want.find(text);
      const Cell expect =
          it == want.end() ? Cell{} : Cell{it->second.first, it->second.second};
      ASSERT_TRUE(Same(got, expect)) << text << " at step " << step;
    }
  }
  EXPECT_EQ(t.size(), want.size());
  EXPECT_EQ(Contents(t), want);
  t.ClearCluster();
  t.ClearWritten();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(Contents(t).empty());
}

}  // namespace
}  // namespace relaysync
