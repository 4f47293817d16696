// The list/dump text (cli/entry_format.h): unchanged without attribution,
// and with it one comment line that no user name can break out of.
#include "cli/entry_format.h"

#include <sstream>
#include <string>

#include "common/ticks.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

constexpr int64_t kT = 1700000000;

std::string Write(const Attribution* who) {
  std::ostringstream out;
  WriteEntry(MapEntry{"192.0.2.1", "1700000000"}, who, out);
  return out.str();
}

const std::string kTimestamp =
    "# timestamp (UTC): " + FormatCtimeUtc(kT) + "\n";

TEST(EntryFormatTest, WithoutAttributionTheEntryIsAsBefore) {
  EXPECT_EQ(Write(nullptr), kTimestamp + "192.0.2.1\t1700000000\n");
}

TEST(EntryFormatTest, AttributionIsACommentLineBeforeTheEntry) {
  const Attribution who{"mx1", "alice@example.org"};
  EXPECT_EQ(Write(&who),
            kTimestamp + "# attribution: host=mx1 user=alice@example.org\n" +
                "192.0.2.1\t1700000000\n");
  const Attribution unknown;
  EXPECT_EQ(Write(&unknown), kTimestamp + "# attribution: unknown\n" +
                                 "192.0.2.1\t1700000000\n");
}

TEST(EntryFormatTest, HostileUserNamesAreEscaped) {
  // A forged entry line, a terminal escape (ESC and the 8-bit CSI), NUL,
  // DEL, invalid UTF-8, a forged field, and the escape character itself.
  static constexpr char kUser[] =
      "x\n10.9.9.9\t1\n\x1b]0;pwned\x07\xc2\x9b"
      "2J\0\x7f\xff user=root \\x41";
  const Attribution who{"mx 1", std::string(kUser, sizeof(kUser) - 1)};
  EXPECT_EQ(Write(&who),
            kTimestamp +
                "# attribution: host=mx\\x201 user=x\\x0a10.9.9.9\\x091\\x0a"
                "\\x1b]0;pwned\\x07\\xc2\\x9b2J\\x00\\x7f\\xff\\x20user=root"
                "\\x20\\x5cx41\n" +
                "192.0.2.1\t1700000000\n");
}

TEST(EntryFormatTest, EscapingKeepsPrintableAsciiAndEmpty) {
  EXPECT_EQ(EscapeAttributionField(""), "");
  EXPECT_EQ(EscapeAttributionField("spiffe://example.org/admin/a-b_c(d)=e"),
            "spiffe://example.org/admin/a-b_c(d)=e");
  EXPECT_EQ(EscapeAttributionField("j\xc3\xbcrgen"), "j\\xc3\\xbcrgen");
}

}  // namespace
}  // namespace relaysync
