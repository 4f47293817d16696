// records.db values (backends/store/embedded_store_codec.h): the 16-byte values
// of format 2 still read, attributed ones round-trip their bytes, and
// anything else is refused rather than misread. changelog.db runs
// round-trip, and a damaged run is refused whole.
#include "backends/store/embedded_store_codec.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace relaysync::embedded {
namespace {

constexpr int64_t kT = 1700000000;

// A format 2 value, built by hand: login_time, delete_time.
std::string OldValue(int64_t login, int64_t del) {
  return EncodeU64(static_cast<uint64_t>(login)) +
         EncodeU64(static_cast<uint64_t>(del));
}

TEST(EmbeddedStoreCodecTest, OldSixteenByteValuesDecodeWithoutAttribution) {
  RelayRecord r;
  r.who = Attribution{"stale", "stale"};
  ASSERT_TRUE(DecodeRecord(OldValue(kT, -5), &r));
  EXPECT_EQ(r.login_time, kT);
  EXPECT_EQ(r.delete_time, -5);
  EXPECT_TRUE(r.who.empty());
}

TEST(EmbeddedStoreCodecTest, RecordWithoutAttributionKeepsTheOldLayout) {
  RelayRecord r;
  r.login_time = kT;
  r.delete_time = kT - 1;
  EXPECT_EQ(EncodeRecord(r), OldValue(kT, kT - 1));
}

TEST(EmbeddedStoreCodecTest, AttributionAppendsLengthPrefixedHostAndUser) {
  RelayRecord r;
  r.login_time = kT;
  r.who = Attribution{"mx1", "bob"};
  EXPECT_EQ(EncodeRecord(r),
            OldValue(kT, 0) + std::string("\0\3mx1\0\3bob", 10));
}

TEST(EmbeddedStoreCodecTest, AttributionRoundTripsAnyBytesUpToTheLimit) {
  for (const Attribution& who :
       {Attribution{"mx1", ""}, Attribution{"", "u"},
        Attribution{"mx1", std::string("\0\n\x1b[2J\xff user", 12)},
        Attribution{std::string(kMaxAttributionField, 'h'),
                    std::string(kMaxAttributionField, '\xfe')}}) {
    RelayRecord r;
    r.login_time = -kT;
    r.delete_time = kT;
    r.who = who;
    RelayRecord back;
    ASSERT_TRUE(DecodeRecord(EncodeRecord(r), &back)) << who.user;
    EXPECT_EQ(back.login_time, -kT);
    EXPECT_EQ(back.delete_time, kT);
    EXPECT_EQ(back.who, who);
  }
}

TEST(EmbeddedStoreCodecTest, MalformedValuesAreRefused) {
  const std::string base = OldValue(kT, 0);
  const std::string too_long(kMaxAttributionField + 1, 'x');
  for (const std::string& bad : {
           base.substr(0, 15),                         // short
           base + std::string("\0", 1),                // half a length
           base + std::string("\0\3mx", 4),            // short host
           base + std::string("\0\3mx1", 5),           // no user
           base + std::string("\0\3mx1\0\3bo", 9),     // short user
           base + std::string("\0\3mx1\0\3bobX", 11),  // trailing byte
           base + std::string("\1\1", 2) + too_long + std::string(2, '\0'),
       }) {
    RelayRecord r;
    EXPECT_FALSE(DecodeRecord(bad, &r)) << bad.size();
  }
}

TEST(EmbeddedStoreCodecTest, ChangeRunsRoundTrip) {
  std::vector<StateChange> changes(3);
  changes[0].address = "192.0.2.1";
  changes[0].ticks = kT;
  changes[1].address = "2001:db8::1";
  changes[1].removed = true;
  changes[2].address = std::string(kMaxChangeAddress, 'a');
  changes[2].ticks = -1;
  std::string run;
  for (const StateChange& c : changes) AppendChange(c, &run);
  std::vector<StateChange> got;
  ASSERT_TRUE(DecodeChangeRun(run, &got));
  ASSERT_EQ(got.size(), changes.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].address, changes[i].address);
    EXPECT_EQ(got[i].ticks, changes[i].ticks);
    EXPECT_EQ(got[i].removed, changes[i].removed);
  }
}

TEST(EmbeddedStoreCodecTest, MalformedChangeRunsAreRefused) {
  StateChange c;
  c.address = "192.0.2.1";
  c.ticks = kT;
  std::string one;
  AppendChange(c, &one);
  // Format 3's value for the same change: no address length.
  const std::string format3 =
      EncodeU64(static_cast<uint64_t>(kT)) + std::string(1, '\0') + c.address;
  for (const std::string& bad : {
           std::string(),                            // no change at all
           one.substr(0, 8),                         // short header
           one.substr(0, one.size() - 1),            // short address
           one + one.substr(0, 10),                  // half a second change
           one + std::string("X", 1),                // trailing byte
           one.substr(0, 9) + std::string(2, '\0'),  // empty address
           format3,
       }) {
    std::vector<StateChange> out;
    EXPECT_FALSE(DecodeChangeRun(bad, &out)) << bad.size();
  }
}

}  // namespace
}  // namespace relaysync::embedded
