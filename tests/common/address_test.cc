#include "common/address.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

std::string Canonical(const std::string& text) {
  absl::StatusOr<Address> a = Address::Parse(text);
  EXPECT_TRUE(a.ok()) << text << ": " << a.status();
  return a.ok() ? a->ToString() : "";
}

std::string SendmailKey(const std::string& text) {
  absl::StatusOr<Address> a = Address::Parse(text);
  EXPECT_TRUE(a.ok()) << text << ": " << a.status();
  return a.ok() ? a->ToKey(KeyStyle::kSendmail) : "";
}

TEST(AddressTest, AcceptsDottedQuads) {
  EXPECT_EQ(Canonical("10.11.12.13"), "10.11.12.13");
  EXPECT_EQ(Canonical("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(Canonical("255.255.255.255"), "255.255.255.255");
  EXPECT_EQ(Address::Parse("192.0.2.1")->family(), Address::Family::kV4);
}

TEST(AddressTest, RejectsMalformedIpv4) {
  for (const char* bad :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1..2.3", "1.2.3.4 ",
        " 1.2.3.4", "01.2.3.4", "1.2.3.04", "0x1.2.3.4", "1.2.3.4/32",
        "a.b.c.d", "1.2.3.", ".1.2.3", "1234.1.1.1", "10.11.12.13\n"}) {
    absl::StatusOr<Address> a = Address::Parse(bad);
    EXPECT_FALSE(a.ok()) << "accepted \"" << bad << "\"";
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(AddressTest, ErrorNamesTheInput) {
  absl::StatusOr<Address> a = Address::Parse("300.1.1.1");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("300.1.1.1"), absl::string_view::npos);
}

TEST(AddressTest, CompressesIpv6PerRfc5952) {
  EXPECT_EQ(Canonical("fd00:0db8:0000:0000:0000:0000:0000:0005"),
            "fd00:db8::5");
  EXPECT_EQ(Canonical("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(Canonical("::1"), "::1");
  EXPECT_EQ(Canonical("::"), "::");
  EXPECT_EQ(Canonical("1::"), "1::");
  // A single zero word is not compressed; the longest run wins, then the
  // first of equal runs.
  EXPECT_EQ(Canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(Canonical("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  EXPECT_EQ(Canonical("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(Canonical("::2:3:4:5:6:7:8"), "0:2:3:4:5:6:7:8");
}

TEST(AddressTest, FoldsIpv4MappedIpv6) {
  EXPECT_EQ(Canonical("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(Canonical("::FFFF:0a01:0203"), "10.1.2.3");
  EXPECT_EQ(Address::Parse("::ffff:10.1.2.3")->family(), Address::Family::kV4);
  EXPECT_EQ(*Address::Parse("::ffff:10.1.2.3"), *Address::Parse("10.1.2.3"));
}

TEST(AddressTest, AcceptsEmbeddedIpv4InOtherIpv6) {
  EXPECT_EQ(Canonical("64:ff9b::192.0.2.33"), "64:ff9b::c000:221");
}

TEST(AddressTest, RejectsMalformedIpv6) {
  for (const char* bad :
       {":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::1", "g::1",
        "fe80::1%eth0", "2001:db8::/32", "1:2:3:4:5:6:7", "::ffff:1.2.3",
        "1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7::8", ":1::2", "1::2:"}) {
    EXPECT_FALSE(Address::Parse(bad).ok()) << "accepted \"" << bad << "\"";
  }
}

TEST(AddressTest, SendmailKeyIsLowerCaseFullIpv6) {
  EXPECT_EQ(SendmailKey("fd00:db8::5"), "ipv6:fd00:db8:0:0:0:0:0:5");
  EXPECT_EQ(SendmailKey("2001:DB8:A::B"), "ipv6:2001:db8:a:0:0:0:0:b");
  EXPECT_EQ(SendmailKey("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(SendmailKey("::ffff:10.1.2.3"), "10.1.2.3");
}

TEST(AddressTest, KeySpellingsListEveryKeyOfAnAddressChosenStyleFirst) {
  const Address v6 = *Address::Parse("fd00:db8::5");
  EXPECT_EQ(v6.KeySpellings(KeyStyle::kSendmail),
            (std::vector<std::string>{"ipv6:fd00:db8:0:0:0:0:0:5",
                                      "fd00:db8::5", "ipv6:fd00:db8::5"}));
  EXPECT_EQ(
      v6.KeySpellings(KeyStyle::kCanonical),
      (std::vector<std::string>{"fd00:db8::5", "ipv6:fd00:db8:0:0:0:0:0:5",
                                "ipv6:fd00:db8::5"}));
  // Nothing to compress: the tagged forms are one.
  EXPECT_EQ(
      Address::Parse("1:2:3:4:5:6:7:8")->KeySpellings(KeyStyle::kSendmail),
      (std::vector<std::string>{"ipv6:1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"}));
  EXPECT_EQ(
      Address::Parse("::ffff:10.1.2.3")->KeySpellings(KeyStyle::kSendmail),
      (std::vector<std::string>{"10.1.2.3"}));
  // Each spelling parses back to the address.
  for (const std::string& key : v6.KeySpellings(KeyStyle::kSendmail)) {
    EXPECT_EQ(*Address::Parse(key), v6) << key;
  }
}

TEST(AddressTest, AcceptsSendmailTaggedInput) {
  EXPECT_EQ(Canonical("IPv6:fd00:db8:0:0:0:0:0:5"), "fd00:db8::5");
  EXPECT_EQ(Canonical("ipv6:fd00:db8:0:0:0:0:0:5"), "fd00:db8::5");
  EXPECT_FALSE(Address::Parse("ipv6:10.1.2.3").ok());
  EXPECT_FALSE(Address::Parse("ipv6:").ok());
}

TEST(AddressTest, OrdersIpv4BeforeIpv6Numerically) {
  std::vector<Address> v;
  for (const char* s :
       {"::1", "10.0.0.10", "10.0.0.9", "2001:db8::1", "9.255.255.255"}) {
    v.push_back(*Address::Parse(s));
  }
  std::sort(v.begin(), v.end());
  std::vector<std::string> got;
  for (const Address& a : v) got.push_back(a.ToString());
  EXPECT_EQ(got, (std::vector<std::string>{"9.255.255.255", "10.0.0.9",
                                           "10.0.0.10", "::1", "2001:db8::1"}));
}

TEST(AddressTest, EximKeyIsFullIpv6WithDotsAndParsesBack) {
  absl::StatusOr<Address> v6 = Address::Parse("fd00:db8::5");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToKey(KeyStyle::kExim),
            "fd00.0db8.0000.0000.0000.0000.0000.0005");
  EXPECT_EQ(Address::Parse("10.1.2.3")->ToKey(KeyStyle::kExim), "10.1.2.3");
  absl::StatusOr<Address> back =
      Address::ParseKey("fd00.0db8.0000.0000.0000.0000.0000.0005");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *v6);
  EXPECT_EQ(
      Address::ParseKey("0000.0000.0000.0000.0000.ffff.0a01.0203")->ToString(),
      "10.1.2.3");
  EXPECT_EQ(Address::ParseKey("ipv6:fd00:db8:0:0:0:0:0:5")->ToString(),
            "fd00:db8::5");
  EXPECT_FALSE(
      Address::ParseKey("FD00.0db8.0000.0000.0000.0000.0000.0005").ok());
  EXPECT_FALSE(
      Address::ParseKey("fd00.0db8.0000.0000.0000.0000.0000:0005").ok());
  EXPECT_FALSE(Address::Parse("fd00.0db8.0000.0000.0000.0000.0000.0005").ok());
  EXPECT_EQ(v6->KeySpellings(KeyStyle::kExim),
            (std::vector<std::string>{"fd00.0db8.0000.0000.0000.0000.0000.0005",
                                      "ipv6:fd00:db8:0:0:0:0:0:5",
                                      "fd00:db8::5", "ipv6:fd00:db8::5"}));
}

TEST(AddressTest, ParsesKeyStyles) {
  EXPECT_EQ(*ParseKeyStyle("canonical"), KeyStyle::kCanonical);
  EXPECT_EQ(*ParseKeyStyle("sendmail"), KeyStyle::kSendmail);
  EXPECT_EQ(*ParseKeyStyle("exim"), KeyStyle::kExim);
  EXPECT_FALSE(ParseKeyStyle("Sendmail").ok());
}

TEST(AddressTest, ErrorQuotesOnlyTheStartOfALongText) {
  const std::string text = "1.2.3." + std::string(100000, '4');
  absl::StatusOr<Address> a = Address::Parse(text);
  ASSERT_FALSE(a.ok());
  EXPECT_LT(a.status().message().size(), 300u);
  EXPECT_NE(a.status().message().find("\"1.2.3.444"), absl::string_view::npos);
  EXPECT_NE(a.status().message().find("(100006 bytes)"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace relaysync
