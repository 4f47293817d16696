#include "cli/vsmtprelay.h"

#include <db.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/map/relayers_db.h"
#include "common/ticks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/process.h"
#include "tests/cli/cli_test_util.h"

namespace relaysync {
namespace {

using testing::CliResult;
using ::testing::HasSubstr;

// vsmtprelay 1.1.0's usage, as quoted in its documentation.
constexpr char kOriginalUsage[] =
    R"(vsmtprelay 1.1.0 usage (optional items in []):
% vsmtprelay command [arg] [...]
where "command [arg] [...]" can be one of the following:
"add ip [ticks]" insert address with current timestamp (or ticks)
"delete ip [...]" remove specified address(es)
"expire [n]" expire all old (or older than n minutes) entries
"list [n]" list all old (or older than n minutes) entries
"dump" list every entry, including the future timestamped
)";

std::string Entry(const std::string& ip, int64_t ticks) {
  return absl::StrCat("# timestamp (UTC): ", FormatCtimeUtc(ticks), "\n", ip,
                      "\t", ticks, "\n");
}

class VsmtprelayTest : public testing::CliFixture {
 protected:
  // The map's bytes and mtime, to prove a failed command changed nothing.
  std::string Fingerprint() {
    struct stat st;
    if (stat(DefaultDb().c_str(), &st) != 0) return "absent";
    return absl::StrCat(st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":",
                        testing::ReadFile(DefaultDb()));
  }
};

TEST_F(VsmtprelayTest, NoArgumentsPrintsTheOriginalUsageAndFails) {
  CliResult r = Run({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err, kOriginalUsage);
  EXPECT_EQ(r.out, "");
}

TEST_F(VsmtprelayTest, BadCommandPrintsTheOriginalUsageAndFails) {
  for (auto args :
       std::vector<std::vector<std::string>>{{"frobnicate"},
                                             {"add"},
                                             {"add", "1.2.3.4", "5", "6"},
                                             {"delete"},
                                             {"expire", "1", "2"},
                                             {"list", "1", "2"},
                                             {"dump", "x"}}) {
    CliResult r = Run(args);
    EXPECT_EQ(r.code, kExitUsage) << args[0];
    EXPECT_EQ(r.err, kOriginalUsage) << args[0];
  }
  EXPECT_EQ(Fingerprint(), "absent");
}

TEST_F(VsmtprelayTest, HelpDocumentsOptionsAndSucceeds) {
  CliResult r = Run({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr(kOriginalUsage));
  EXPECT_THAT(r.out, HasSubstr("--db=PATH"));
  EXPECT_THAT(r.out, HasSubstr("Exit status"));
  EXPECT_THAT(r.out, HasSubstr("(0 is 1 January 1970)"));
  EXPECT_THAT(r.out, HasSubstr("(ipv6:fd00:db8:0:0:0:0:0:5, default"));
  EXPECT_THAT(r.out, HasSubstr("--max-lag=N"));
  EXPECT_THAT(r.out, HasSubstr("--max-silence=DURATION"));
  EXPECT_THAT(r.out, HasSubstr("3 status answered but\nan agent is marked"));
}

TEST_F(VsmtprelayTest, AttributionOnALocalMapIsAUsageErrorSayingWhy) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "1500000000"}).code, kExitOk);
  const std::string before = Fingerprint();
  for (const char* cmd : {"dump", "list"}) {
    CliResult r = Run({"--attribution", cmd});
    EXPECT_EQ(r.code, kExitUsage) << cmd;
    EXPECT_EQ(r.out, "") << cmd;
    EXPECT_THAT(r.err, HasSubstr("a local map keeps no attribution")) << cmd;
  }
  CliResult r = Run({"--attribution", "add", "10.0.0.2"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--attribution applies to list and dump only"));
  EXPECT_EQ(Fingerprint(), before);
  EXPECT_THAT(Run({"--help"}).out, HasSubstr("--attribution"));
}

TEST_F(VsmtprelayTest, UnknownOptionIsAUsageError) {
  CliResult r = Run({"--bogus", "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown option --bogus"));
}

TEST_F(VsmtprelayTest, AddStampsNowAndListShowsIt) {
  ASSERT_EQ(Run({"add", "10.11.12.13"}).code, kExitOk);
  CliResult r = Run({"list"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, Entry("10.11.12.13", kNow));
}

TEST_F(VsmtprelayTest, AddWithTicksReplacesAndMayBeInTheFuture) {
  ASSERT_EQ(Run({"add", "10.0.0.1"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.1", "1500000000"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.2", "2100000000"}).code, kExitOk);
  // list hides the future-dated entry; dump shows every entry.
  EXPECT_EQ(Run({"list"}).out, Entry("10.0.0.1", 1500000000));
  EXPECT_EQ(Run({"dump"}).out,
            Entry("10.0.0.1", 1500000000) + Entry("10.0.0.2", 2100000000));
}

TEST_F(VsmtprelayTest, AddWithTicksZeroStoresTheEpoch) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "0"}).code, kExitOk);
  // Byte for byte what vsmtprelay 1.1.0 prints.
  const char kEpoch[] =
      "# timestamp (UTC): Thu Jan  1 00:00:00 1970\n10.0.0.1\t0\n";
  EXPECT_EQ(Run({"dump"}).out, kEpoch);
  EXPECT_EQ(Run({"list", "1440"}).out, kEpoch);
}

TEST_F(VsmtprelayTest, OutputIsInAddressOrder) {
  for (const char* ip :
       {"fd00::1", "10.0.0.10", "10.0.0.9", "::1", "9.1.1.1"}) {
    ASSERT_EQ(Run({"--key-style=canonical", "add", ip, "1000"}).code, kExitOk);
  }
  EXPECT_EQ(Run({"dump"}).out, Entry("9.1.1.1", 1000) +
                                   Entry("10.0.0.9", 1000) +
                                   Entry("10.0.0.10", 1000) +
                                   Entry("::1", 1000) + Entry("fd00::1", 1000));
}

TEST_F(VsmtprelayTest, AddCanonicalizesAddresses) {
  ASSERT_EQ(
      Run({"--key-style=canonical", "add", "FD00:0DB8:0:0:0:0:0:5", "7"}).code,
      kExitOk);
  ASSERT_EQ(Run({"add", "::ffff:192.0.2.1", "8"}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("192.0.2.1", 8) + Entry("fd00:db8::5", 7));
}

TEST_F(VsmtprelayTest, AddWritesSendmailKeysByDefault) {
  ASSERT_EQ(Run({"add", "FD00:0DB8:0:0:0:0:0:5", "7"}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("ipv6:fd00:db8:0:0:0:0:0:5", 7));
}

TEST_F(VsmtprelayTest, SendmailKeyStyleWritesFullIpv6) {
  ASSERT_EQ(Run({"--key-style=sendmail", "add", "fd00:db8::5", "7"}).code,
            kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("ipv6:fd00:db8:0:0:0:0:0:5", 7));
  // delete finds it with the same style.
  EXPECT_EQ(Run({"delete", "--key-style", "sendmail", "fd00:db8::5"}).code,
            kExitOk);
  EXPECT_EQ(Run({"dump"}).out, "");
}

TEST_F(VsmtprelayTest, DeleteRemovesEachAndReportsTheMissingOnes) {
  ASSERT_EQ(Run({"add", "10.0.0.1"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.2"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.3"}).code, kExitOk);
  CliResult r = Run({"delete", "10.0.0.1", "10.0.0.7", "10.0.0.3"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("10.0.0.7: not present"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("10.0.0.1")));
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.2", kNow));
  EXPECT_EQ(Run({"delete", "10.0.0.2"}).code, kExitOk);
}

TEST_F(VsmtprelayTest, BadInputIsRejectedAndTheMapIsUnchanged) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "1000"}).code, kExitOk);
  const std::string before = Fingerprint();
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{"add", "10.0.0.256"}, "invalid IP address \"10.0.0.256\""},
           {{"add", "010.0.0.1"}, "leading zeros"},
           {{"add", "10.0.0.2", "soon"}, "invalid ticks \"soon\""},
           {{"add", "10.0.0.2", "-5"}, "invalid ticks"},
           {{"delete", "10.0.0.1", "bogus"}, "invalid IP address \"bogus\""},
           {{"expire", "ten"}, "invalid n \"ten\""},
           {{"expire", "-1"}, "invalid n"},
           {{"list", "1.5"}, "invalid n"},
           {{"--key-style=odd", "dump"}, "invalid key style"}}) {
    CliResult r = Run(c.args);
    EXPECT_EQ(r.code, kExitUsage) << c.args[0] << " " << c.args[1];
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_EQ(Fingerprint(), before) << c.args[0] << " " << c.args[1];
  }
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", 1000));
}

TEST_F(VsmtprelayTest, AddRefusesAddressesThatAreNeverRelayed) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "1000"}).code, kExitOk);
  const std::string before = Fingerprint();
  for (const auto& [address, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"0.0.0.0",
            "vsmtprelay: address 0.0.0.0 is never relayed (unspecified "
            "address: 0.0.0.0/32)\n"},
           {"::",
            "vsmtprelay: address :: is never relayed (unspecified address: "
            "::/128)\n"},
           {"255.255.255.255",
            "vsmtprelay: address 255.255.255.255 is never relayed (limited "
            "broadcast address: 255.255.255.255/32)\n"},
           {"224.0.0.1",
            "vsmtprelay: address 224.0.0.1 is never relayed (multicast "
            "address: 224.0.0.0/4)\n"},
           {"IPv6:FF02::1",
            "vsmtprelay: address ff02::1 is never relayed (multicast "
            "address: ff00::/8)\n"}}) {
    CliResult r = Run({"add", address});
    EXPECT_EQ(r.code, kExitUsage) << address;
    EXPECT_EQ(r.err, message);
    EXPECT_EQ(Fingerprint(), before) << address;
  }
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", 1000));
}

TEST_F(VsmtprelayTest, DeleteStillRemovesANeverRelayedAddress) {
  // As an older version may have added it.
  {
    absl::StatusOr<std::unique_ptr<RelayersDb>> db =
        RelayersDb::Open(DefaultDb(), RelayersDb::Mode::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    MapBatch batch;
    batch.Put("0.0.0.0", 1000);
    ASSERT_TRUE((*db)->Apply(batch).ok());
  }
  EXPECT_EQ(Run({"delete", "0.0.0.0"}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, "");
}

TEST_F(VsmtprelayTest, ExpireWithoutNRemovesEverythingNotInTheFuture) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "1000"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.2"}).code, kExitOk);  // exactly now
  ASSERT_EQ(Run({"add", "10.0.0.3", absl::StrCat(kNow + 1)}).code, kExitOk);
  CliResult r = Run({"expire"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "expired 2 entries\n");
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.3", kNow + 1));
}

TEST_F(VsmtprelayTest, ExpireAndListWithMinutesUseAnInclusiveCutoff) {
  ASSERT_EQ(Run({"add", "10.0.0.1", absl::StrCat(kNow - 600)}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.2", absl::StrCat(kNow - 599)}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.3", absl::StrCat(kNow - 3600)}).code, kExitOk);
  EXPECT_EQ(Run({"list", "10"}).out,
            Entry("10.0.0.1", kNow - 600) + Entry("10.0.0.3", kNow - 3600));
  EXPECT_EQ(Run({"list", "60"}).out, Entry("10.0.0.3", kNow - 3600));
  EXPECT_EQ(Run({"expire", "10"}).out, "expired 2 entries\n");
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.2", kNow - 599));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Run({"expire", "10"}).out, "expired 1 entry\n");
  EXPECT_EQ(Run({"expire", "10"}).out, "expired 0 entries\n");
}

TEST_F(VsmtprelayTest, DbFlagBeatsEnvironmentWhichBeatsHome) {
  const std::string flag_db = dir_.File("flag.db");
  const std::string env_db = dir_.File("env.db");
  env_["VSMTPRELAY_DB"] = env_db;
  ASSERT_EQ(Run({"add", "10.0.0.1", "1"}).code, kExitOk);
  ASSERT_EQ(Run({"--db", flag_db, "add", "10.0.0.2", "2"}).code, kExitOk);
  ASSERT_EQ(Run({"add", "10.0.0.3", "3", "--db=" + flag_db}).code, kExitOk);
  EXPECT_EQ(Run({"dump"}).out, Entry("10.0.0.1", 1));
  EXPECT_EQ(Run({"--db=" + flag_db, "dump"}).out,
            Entry("10.0.0.2", 2) + Entry("10.0.0.3", 3));
  EXPECT_EQ(Fingerprint(), "absent");
  env_.erase("VSMTPRELAY_DB");
  ASSERT_EQ(Run({"add", "10.0.0.4", "4"}).code, kExitOk);
  EXPECT_NE(Fingerprint(), "absent") << "default is $HOME/etc/relayers.db";
}

TEST_F(VsmtprelayTest, ReadingAMissingMapFailsNamingIt) {
  for (const char* cmd : {"list", "dump"}) {
    CliResult r = Run({cmd});
    EXPECT_EQ(r.code, kExitFailure);
    EXPECT_THAT(r.err, HasSubstr(DefaultDb()));
    EXPECT_THAT(r.err, HasSubstr("No such file"));
  }
  EXPECT_EQ(Fingerprint(), "absent") << "list must not create the map";
}

TEST_F(VsmtprelayTest, AFileThatIsNotAMapIsReportedAndLeftAlone) {
  testing::WriteFile(DefaultDb(), "10.0.0.1 12345\n");
  const std::string before = Fingerprint();
  for (auto args : std::vector<std::vector<std::string>>{
           {"dump"}, {"add", "10.0.0.2"}, {"delete", "10.0.0.1"}, {"expire"}}) {
    CliResult r = Run(args);
    EXPECT_EQ(r.code, kExitFailure) << args[0];
    EXPECT_THAT(r.err,
                HasSubstr(DefaultDb() + ": not a Berkeley DB hash file"));
  }
  EXPECT_EQ(Fingerprint(), before);
}

TEST_F(VsmtprelayTest, ListSkipsButDumpKeepsAValueThatIsNotANumber) {
  ASSERT_EQ(Run({"add", "10.0.0.1", "5"}).code, kExitOk);
  {
    // An entry written by another tool with a non-numeric value.
    DB* raw;
    ASSERT_EQ(db_create(&raw, nullptr, 0), 0);
    ASSERT_EQ(
        raw->open(raw, nullptr, DefaultDb().c_str(), nullptr, DB_HASH, 0, 0),
        0);
    DBT k, v;
    std::memset(&k, 0, sizeof(k));
    std::memset(&v, 0, sizeof(v));
    k.data = const_cast<char*>("10.0.0.2");
    k.size = 8;
    v.data = const_cast<char*>("OK");
    v.size = 2;
    ASSERT_EQ(raw->put(raw, nullptr, &k, &v, 0), 0);
    raw->close(raw, 0);
  }
  EXPECT_EQ(Run({"list"}).out, Entry("10.0.0.1", 5));
  EXPECT_EQ(Run({"dump"}).out,
            Entry("10.0.0.1", 5) +
                "# timestamp (UTC): unreadable value\n10.0.0.2\tOK\n");
  EXPECT_EQ(Run({"expire"}).out, "expired 1 entry\n");
  EXPECT_EQ(Run({"dump"}).out,
            "# timestamp (UTC): unreadable value\n10.0.0.2\tOK\n");
}

TEST_F(VsmtprelayTest, StatusDescribesTheLocalMap) {
  ASSERT_EQ(Run({"add", "10.0.0.1"}).code, kExitOk);
  CliResult r = Run({"status"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "map: " + DefaultDb() + "\nentries: 1\n");
}

TEST_F(VsmtprelayTest, BadAgentLimitsAreUsageErrors) {
  CliResult r = Run({"--max-lag=many", "status"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("invalid --max-lag \"many\""));
  r = Run({"--max-silence=-5s", "status"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("invalid --max-silence \"-5s\""));
  ASSERT_EQ(Run({"add", "10.0.0.1"}).code, kExitOk);
  r = Run({"--max-silence", "1m", "--max-lag", "10", "status"});
  EXPECT_EQ(r.code, kExitOk) << r.err;  // a local map has no agents
}

TEST_F(VsmtprelayTest, UnreachableCoordinatorFailsNamingIt) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  env_["VSMTPRELAY_INSECURE"] = "1";
  for (const char* cmd : {"list", "dump", "expire", "status"}) {
    CliResult r = Run({"--coordinator=127.0.0.1:1", "--timeout=5", cmd});
    EXPECT_EQ(r.code, kExitFailure) << cmd;
    EXPECT_THAT(r.err, HasSubstr("cannot reach coordinator 127.0.0.1:1"));
  }
  env_["VSMTPRELAY_COORDINATOR"] = "127.0.0.1:1";
  CliResult r = Run({"add", "10.0.0.1"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("cannot reach coordinator"));
  // --db wins over the environment's coordinator.
  EXPECT_EQ(Run({"--db=" + DefaultDb(), "add", "10.0.0.1"}).code, kExitOk);
}

TEST_F(VsmtprelayTest, CoordinatorNeedsTlsOrInsecure) {
  CliResult r = Run({"--coordinator=127.0.0.1:1", "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("no TLS credentials: give --tls-ca, --tls-cert "
                               "and --tls-key"));
  r = Run({"--coordinator=127.0.0.1:1", "--tls-ca=/etc/hostname", "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--tls-cert: missing"));
  r = Run({"--coordinator=127.0.0.1:1", "--tls-ca=" + dir_.File("none"),
           "--tls-cert=" + dir_.File("none"), "--tls-key=" + dir_.File("none"),
           "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--tls-ca: " + dir_.File("none") +
                               ": No such file or directory"));
  r = Run({"--coordinator=127.0.0.1:1", "--insecure", "--tls-ca=/etc/hostname",
           "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("exclude each other"));
  // A local file needs none of it.
  EXPECT_EQ(Run({"add", "10.0.0.1"}).code, kExitOk);
}

TEST_F(VsmtprelayTest, TlsFilesComeFromOptionsEnvironmentOrConfigDir) {
  const std::string certs = dir_.File(".config/relaysync");
  ASSERT_EQ(testing::RunShell(absl::StrCat(RELAYSYNC_MAKE_CERTS, " --admin=me ",
                                           certs, " >/dev/null && cd ", certs,
                                           " && mv admin-me.pem cert.pem && mv "
                                           "admin-me.key key.pem"))
                .exit_code,
            0);
  // The per-user directory: passes validation, fails only to connect.
  CliResult r = Run({"--coordinator=127.0.0.1:1", "--timeout=5", "dump"});
  EXPECT_EQ(r.code, kExitFailure) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach coordinator"));
  // The environment wins over it, and a bad file there is named.
  env_["VSMTPRELAY_TLS_KEY"] = "/etc/hostname";
  env_["VSMTPRELAY_TLS_CA"] = certs + "/ca.pem";
  env_["VSMTPRELAY_TLS_CERT"] = certs + "/cert.pem";
  r = Run({"--coordinator=127.0.0.1:1", "dump"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--tls-key: /etc/hostname: no PEM private key"));
  // Options win over the environment.
  r = Run({"--coordinator=127.0.0.1:1", "--timeout=5",
           "--tls-key=" + certs + "/key.pem", "dump"});
  EXPECT_EQ(r.code, kExitFailure) << r.err;
}

TEST_F(VsmtprelayTest, BadCoordinatorAddressIsAUsageError) {
  CliResult r = Run({"--coordinator=localhost", "list"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("invalid coordinator address \"localhost\""));
}

}  // namespace
}  // namespace relaysync
