// NeverRelay and Cidr: the default ranges, --never-relay parsing, matching
// at prefix boundaries, and the refusal message.
#include "common/never_relay.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;

bool Refused(const NeverRelay& set, const std::string& text) {
  absl::StatusOr<Address> a = Address::Parse(text);
  EXPECT_TRUE(a.ok()) << text << ": " << a.status();
  return a.ok() && set.Find(*a) != nullptr;
}

TEST(NeverRelayTest, DefaultsRefuseUnspecifiedBroadcastAndMulticast) {
  const NeverRelay set = NeverRelay::Defaults();
  for (const char* text :
       {"0.0.0.0", "::", "0:0:0:0:0:0:0:0", "IPv6:0:0:0:0:0:0:0:0",
        "::ffff:0.0.0.0", "255.255.255.255", "224.0.0.1", "224.0.0.0",
        "239.255.255.255", "232.1.2.3", "ff02::1", "FF05::1:3",
        "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_TRUE(Refused(set, text)) << text;
  }
}

TEST(NeverRelayTest, DefaultsGrantOrdinaryAndNeighbouringAddresses) {
  const NeverRelay set = NeverRelay::Defaults();
  for (const char* text :
       {"10.1.2.3", "192.0.2.7", "0.0.0.1", "223.255.255.255", "240.0.0.1",
        "255.255.255.254", "::1", "::2", "2001:db8::5", "fe80::1",
        "feff:ffff::1", "127.0.0.1", "127.0.0.2"}) {
    EXPECT_FALSE(Refused(set, text)) << text;
  }
}

TEST(NeverRelayTest, CheckNamesTheAddressAndTheRange) {
  const NeverRelay set = NeverRelay::Defaults();
  absl::Status s = set.Check(*Address::Parse("0.0.0.0"));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "address 0.0.0.0 is never relayed (unspecified address: "
            "0.0.0.0/32)");
  s = set.Check("FF02::1");
  EXPECT_EQ(s.message(),
            "address ff02::1 is never relayed (multicast address: ff00::/8)");
  EXPECT_TRUE(set.Check("192.0.2.1").ok());
  EXPECT_THAT(set.Check("bogus").message(), HasSubstr("invalid IP address"));
}

TEST(NeverRelayTest, ExtraRangesAddToTheDefaults) {
  absl::StatusOr<NeverRelay> set = NeverRelay::WithExtra(
      "10.0.0.0/8, 192.0.2.128/25,2001:db8:1::/48,198.51.100.9",
      "--never-relay");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(Refused(*set, "0.0.0.0"));
  EXPECT_TRUE(Refused(*set, "10.255.0.1"));
  EXPECT_FALSE(Refused(*set, "11.0.0.1"));
  EXPECT_TRUE(Refused(*set, "192.0.2.128"));
  EXPECT_TRUE(Refused(*set, "192.0.2.255"));
  EXPECT_FALSE(Refused(*set, "192.0.2.127"));
  EXPECT_TRUE(Refused(*set, "2001:db8:1:ffff::1"));
  EXPECT_FALSE(Refused(*set, "2001:db8:2::1"));
  EXPECT_TRUE(Refused(*set, "198.51.100.9"));
  EXPECT_FALSE(Refused(*set, "198.51.100.10"));
  EXPECT_EQ(set->Check("10.1.2.3").message(),
            "address 10.1.2.3 is never relayed (--never-relay: 10.0.0.0/8)");
}

TEST(NeverRelayTest, AnIpv4MappedRangeIsAnIpv4Range) {
  absl::StatusOr<NeverRelay> set =
      NeverRelay::WithExtra("::ffff:10.0.0.0/104", "--never-relay");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(Refused(*set, "10.9.9.9"));
  EXPECT_TRUE(Refused(*set, "::ffff:10.9.9.9"));
  EXPECT_FALSE(Refused(*set, "11.0.0.1"));
}

TEST(NeverRelayTest, ZeroPrefixMatchesItsWholeFamilyOnly) {
  absl::StatusOr<NeverRelay> set = NeverRelay::WithExtra("0.0.0.0/0", "x");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(Refused(*set, "203.0.113.1"));
  EXPECT_FALSE(Refused(*set, "2001:db8::1"));
}

TEST(NeverRelayTest, EmptyListIsTheDefaults) {
  absl::StatusOr<NeverRelay> set = NeverRelay::WithExtra("", "--never-relay");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->ToString(), NeverRelay::Defaults().ToString());
  EXPECT_EQ(set->ToString(),
            "0.0.0.0/32, ::/128, 255.255.255.255/32, 224.0.0.0/4, ff00::/8");
}

TEST(NeverRelayTest, BadRangesAreRefusedNamingTheFlagAndTheRange) {
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.1.0.0/8",
        "2001:db8::1/64", "::/129", "::ffff:10.0.0.0/95", "10.0.0.0/8/8",
        "10.0.0/8", "bogus", "fe80::1%eth0/64", "10.0.0.0/ 8"}) {
    absl::StatusOr<NeverRelay> set =
        NeverRelay::WithExtra(bad, "--never-relay");
    ASSERT_FALSE(set.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(set.status()));
    EXPECT_THAT(set.status().message(), HasSubstr("--never-relay: "));
    EXPECT_THAT(set.status().message(), HasSubstr("invalid address range"));
  }
}

}  // namespace
}  // namespace relaysync
