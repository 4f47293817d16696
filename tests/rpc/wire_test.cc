#include "rpc/wire.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {
namespace {

// Through the bytes on the wire, as the other side parses them.
template <typename Message>
Message Reparsed(const Message& m) {
  Message out;
  EXPECT_TRUE(out.ParseFromString(m.SerializeAsString()));
  return out;
}

StateChange RoundTrip(const StateChange& c) {
  v1::Delta d;
  ToProto(c, &d);
  StateChange out;
  FromProto(Reparsed(d), &out);
  return out;
}

AttributedEntry RoundTrip(const AttributedEntry& e) {
  v1::Entry m;
  ToProto(e, &m);
  AttributedEntry out;
  FromProto(Reparsed(m), &out);
  return out;
}

void ExpectSame(const StateChange& a, const StateChange& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.ticks, b.ticks);
  EXPECT_EQ(a.removed, b.removed);
}

TEST(WireTest, AChangeSurvivesTheWire) {
  ExpectSame(RoundTrip({7, "192.0.2.1", 1700000000, false}),
             {7, "192.0.2.1", 1700000000, false});
  ExpectSame(RoundTrip({8, "2001:db8::1", 1700000001, true}),
             {8, "2001:db8::1", 1700000001, true});
}

TEST(WireTest, EdgeValuesOfAChangeSurviveTheWire) {
  // Ticks 0 is the epoch (vsmtprelay add IP 0), not "unset".
  ExpectSame(RoundTrip({1, "192.0.2.1", 0, false}), {1, "192.0.2.1", 0, false});
  // A removal carries no meaningful ticks, whatever they are.
  ExpectSame(RoundTrip({2, "192.0.2.1", 0, true}), {2, "192.0.2.1", 0, true});
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const uint64_t kTop = std::numeric_limits<uint64_t>::max();
  ExpectSame(RoundTrip({kTop, "192.0.2.1", kMax, false}),
             {kTop, "192.0.2.1", kMax, false});
  ExpectSame(RoundTrip({0, "", kMin, false}), {0, "", kMin, false});
}

TEST(WireTest, ADeltaFieldForFieldFromAChange) {
  v1::Delta d;
  ToProto(StateChange{42, "198.51.100.7", 123, true}, &d);
  EXPECT_EQ(d.version(), 42u);
  EXPECT_EQ(d.address(), "198.51.100.7");
  EXPECT_EQ(d.ticks(), 123);
  EXPECT_TRUE(d.removed());
}

TEST(WireTest, AnEntryForAgentsCarriesNoAttribution) {
  v1::Entry m;
  ToProto(StateEntry{"192.0.2.9", 0}, &m);
  EXPECT_EQ(m.address(), "192.0.2.9");
  EXPECT_EQ(m.ticks(), 0);
  EXPECT_TRUE(m.user().empty());
  EXPECT_TRUE(m.host_id().empty());

  m.set_user("alice");
  m.set_host_id("mx1");
  StateEntry out{"stale", 99};
  FromProto(Reparsed(m), &out);
  EXPECT_EQ(out.address, "192.0.2.9");
  EXPECT_EQ(out.ticks, 0);
}

TEST(WireTest, AnAttributedEntrySurvivesTheWire) {
  AttributedEntry e{"2001:db8::5", 1700000000, Attribution{"mx1", "alice"}};
  AttributedEntry out = RoundTrip(e);
  EXPECT_EQ(out.address, e.address);
  EXPECT_EQ(out.ticks, e.ticks);
  EXPECT_EQ(out.who, e.who);
}

TEST(WireTest, AUserNameIsBytesNotText) {
  // Latin-1, a NUL and a control character: not UTF-8, kept exact.
  const std::string user("j\xf6rg\0\x01", 6);
  AttributedEntry out =
      RoundTrip(AttributedEntry{"192.0.2.1", 5, Attribution{"mx1", user}});
  EXPECT_EQ(out.who.user, user);
  EXPECT_EQ(out.who.host, "mx1");
}

TEST(WireTest, AFullLengthAttributionSurvivesTheWire) {
  const Attribution who{std::string(kMaxAttributionField, 'h'),
                        std::string(kMaxAttributionField, '\xfe')};
  EXPECT_EQ(RoundTrip(AttributedEntry{"192.0.2.1", 1, who}).who, who);
}

TEST(WireTest, AnUnknownAttributionStaysEmpty) {
  v1::Entry m;
  ToProto(AttributedEntry{"192.0.2.1", 1, {}}, &m);
  // Nothing extra on the wire: the same bytes as an entry for agents.
  v1::Entry plain;
  ToProto(StateEntry{"192.0.2.1", 1}, &plain);
  EXPECT_EQ(m.SerializeAsString(), plain.SerializeAsString());
  AttributedEntry out;
  FromProto(m, &out);
  EXPECT_TRUE(out.who.empty());
}

}  // namespace
}  // namespace relaysync
