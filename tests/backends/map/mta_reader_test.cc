// Maps of each kind as their MTA's own code reads them: Postfix's postmap
// for postfix-hash, postfix-lmdb and cdb, Exim's expansion test mode (exim -be)
// for exim-dbm, exim-dbmnz, cdb and text. Both come unpacked from their Debian
// packages by scripts/install-mta-readers.sh (they conflict with the sendmail
// the other tests need); RELAYSYNC_MTA_READERS in the environment overrides
// where.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "backends/map/map_kind.h"
#include "common/address.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

std::string ReadersRoot() {
  const char* env = std::getenv("RELAYSYNC_MTA_READERS");
  return env != nullptr && *env != '\0' ? env : RELAYSYNC_MTA_READERS_DIR;
}

class MtaReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Missing readers fail the test: a skipped interop test proves nothing.
    ASSERT_EQ(access(Postmap().c_str(), X_OK), 0)
        << Postmap() << " missing: run scripts/install-mta-readers.sh";
    ASSERT_EQ(access(Exim().c_str(), X_OK), 0)
        << Exim() << " missing: run scripts/install-mta-readers.sh";
    // What postmap needs to run unpacked (docs/maps.md, "Testing").
    testing::WriteFile(
        dir_.File("main.cf"),
        absl::StrCat("compatibility_level = 3.6\n", "shlib_directory = ", root_,
                     "/usr/lib/postfix\n", "meta_directory = ", root_,
                     "/etc/postfix\n",
                     "mail_owner = daemon\ndefault_privs = nobody\n"
                     "setgid_group = mail\n"));
    testing::WriteFile(
        dir_.File("exim.conf"),
        absl::StrCat("exim_user = daemon\nexim_group = daemon\n",
                     "spool_directory = ", dir_.path(),
                     "/spool\nlog_file_path = ", dir_.path(), "/%slog\n"));
  }

  std::string Postmap() const { return root_ + "/usr/sbin/postmap"; }
  std::string Exim() const { return root_ + "/usr/sbin/exim4"; }

  // Writes `entries` (address, ticks) into a `kind` map at `path` through
  // the writer the agent uses, keys spelled as the kind says.
  void Write(MapKind kind, const std::string& path,
             const std::vector<std::pair<std::string, int64_t>>& entries,
             const std::vector<std::string>& deletes = {}) {
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(kind, path, RelayersDb::Mode::kReadWrite, MapOptions());
    ASSERT_TRUE(map.ok()) << map.status();
    MapBatch batch;
    for (const auto& [address, ticks] : entries) {
      batch.Put(Address::Parse(address)->ToKey(MapKindKeyStyle(kind)), ticks);
    }
    for (const std::string& address : deletes) {
      batch.Delete(Address::Parse(address)->ToKey(MapKindKeyStyle(kind)));
    }
    ASSERT_TRUE((*map)->Apply(batch).ok());
  }

  // postmap -q ADDRESS TABLE: the value, or "(none)" when not found.
  std::string PostmapQuery(const std::string& address,
                           const std::string& table) {
    testing::CommandResult r = testing::RunShell(
        absl::StrCat("LD_LIBRARY_PATH=", root_, "/usr/lib/postfix ", Postmap(),
                     " -c ", dir_.path(), " -q '", address, "' ", table));
    if (r.exit_code == 1 && r.output.empty()) return "(none)";
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return std::string(absl::StripTrailingAsciiWhitespace(r.output));
  }

  // exim -be EXPANSION: what it expands to.
  std::string EximExpand(const std::string& expansion) {
    testing::CommandResult r = testing::RunShell(absl::StrCat(
        Exim(), " -C ", dir_.File("exim.conf"), " -be '", expansion, "' 2>&1"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return std::string(absl::StripTrailingAsciiWhitespace(r.output));
  }
  // Whether Exim's host-list item `item` (e.g. "net-dbm;/x") matches
  // `address`.
  std::string HostListMatches(const std::string& address,
                              const std::string& item) {
    return EximExpand(
        absl::StrCat("${if match_ip{", address, "}{", item, "}{yes}{no}}"));
  }

  testing::ScratchDir dir_;
  const std::string root_ = ReadersRoot();
};

TEST_F(MtaReaderTest, PostmapFindsIpv4AndCompressedIpv6InPostfixHash) {
  // postmap names a hash map without its ".db".
  const std::string table = "hash:" + dir_.File("relayers");
  const std::string path = dir_.File("relayers.db");
  Write(MapKind::kPostfixHash, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "1764662400");
  // smtpd's check_client_access looks up the address as smtpd prints it:
  // compressed, lower case.
  EXPECT_EQ(PostmapQuery("2001:db8::5", table), "1764662401");
  EXPECT_EQ(PostmapQuery("192.0.2.10", table), "(none)");

  // A change is seen by the next lookup.
  Write(MapKind::kPostfixHash, path, {{"2001:db8::5", 1764662500}},
        {"192.0.2.9"});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "(none)");
  EXPECT_EQ(PostmapQuery("2001:db8::5", table), "1764662500");
}

TEST_F(MtaReaderTest, PostmapReadsThePostfixLmdbMap) {
  // postmap names an lmdb map without its ".lmdb".
  const std::string table = "lmdb:" + dir_.File("relayers");
  const std::string path = dir_.File("relayers.lmdb");
  Write(MapKind::kPostfixLmdb, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "1764662400");
  EXPECT_EQ(PostmapQuery("2001:db8::5", table), "1764662401");
  EXPECT_EQ(PostmapQuery("192.0.2.10", table), "(none)");

  Write(MapKind::kPostfixLmdb, path, {{"2001:db8::5", 1764662500}},
        {"192.0.2.9"});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "(none)");
  EXPECT_EQ(PostmapQuery("2001:db8::5", table), "1764662500");
}

TEST_F(MtaReaderTest, EximDbmFindsEntriesByLookupAndInAHostList) {
  const std::string path = dir_.File("relayers.db");
  Write(MapKind::kEximDbm, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}dbm{" + path + "}}"), "1764662400");
  EXPECT_EQ(HostListMatches("192.0.2.9", "net-dbm;" + path), "yes");
  EXPECT_EQ(HostListMatches("2001:db8::5", "net-dbm;" + path), "yes");
  EXPECT_EQ(HostListMatches("2001:db8::6", "net-dbm;" + path), "no");
  EXPECT_EQ(HostListMatches("192.0.2.10", "net-dbm;" + path), "no");

  Write(MapKind::kEximDbm, path, {}, {"2001:db8::5"});
  EXPECT_EQ(HostListMatches("2001:db8::5", "net-dbm;" + path), "no");
}

TEST_F(MtaReaderTest, EximDbmnzFindsKeysWithoutTheNul) {
  const std::string path = dir_.File("relayers.db");
  Write(MapKind::kEximDbmnz, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}dbmnz{" + path + "}}"),
            "1764662400");
  EXPECT_EQ(HostListMatches("2001:db8::5", "net-dbmnz;" + path), "yes");
  // And a dbm lookup (which adds the NUL) does not: the kinds differ.
  EXPECT_EQ(HostListMatches("192.0.2.9", "net-dbm;" + path), "no");
}

TEST_F(MtaReaderTest, AnEmptiedEximDbmIsStillAMapEximReads) {
  const std::string path = dir_.File("relayers.db");
  Write(MapKind::kEximDbm, path, {{"192.0.2.9", 1764662400}});
  Write(MapKind::kEximDbm, path, {}, {"192.0.2.9"});
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}dbm{" + path + "}{found}{absent}}"),
            "absent");
}

TEST_F(MtaReaderTest, PostmapAndEximReadTheCdbMap) {
  // postmap names a cdb map without its ".cdb".
  const std::string table = "cdb:" + dir_.File("relayers");
  const std::string path = dir_.File("relayers.cdb");
  Write(MapKind::kCdb, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "1764662400");
  EXPECT_EQ(PostmapQuery("2001:db8::5", table), "1764662401");
  EXPECT_EQ(PostmapQuery("192.0.2.10", table), "(none)");
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}cdb{" + path + "}}"), "1764662400");
  EXPECT_EQ(EximExpand("${lookup{2001:db8::5}cdb{" + path + "}}"),
            "1764662401");

  Write(MapKind::kCdb, path, {{"192.0.2.10", 1764662402}}, {"192.0.2.9"});
  EXPECT_EQ(PostmapQuery("192.0.2.9", table), "(none)");
  EXPECT_EQ(PostmapQuery("192.0.2.10", table), "1764662402");
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}cdb{" + path + "}{found}{absent}}"),
            "absent");
}

TEST_F(MtaReaderTest, EximIplsearchAndLsearchReadTheTextMap) {
  const std::string path = dir_.File("relayers.txt");
  Write(MapKind::kText, path,
        {{"192.0.2.9", 1764662400}, {"2001:db8::5", 1764662401}});
  EXPECT_EQ(EximExpand("${lookup{192.0.2.9}iplsearch{" + path + "}}"),
            "1764662400");
  EXPECT_EQ(EximExpand("${lookup{2001:db8::5}iplsearch{" + path + "}}"),
            "1764662401");
  EXPECT_EQ(EximExpand("${lookup{2001:db8::5}lsearch{" + path + "}}"),
            "1764662401");
  EXPECT_EQ(HostListMatches("2001:db8::5", "net-iplsearch;" + path), "yes");
  EXPECT_EQ(HostListMatches("192.0.2.9", "net-iplsearch;" + path), "yes");
  EXPECT_EQ(HostListMatches("192.0.2.10", "net-iplsearch;" + path), "no");

  Write(MapKind::kText, path, {{"192.0.2.10", 1764662402}}, {"192.0.2.9"});
  EXPECT_EQ(HostListMatches("192.0.2.9", "net-iplsearch;" + path), "no");
  EXPECT_EQ(HostListMatches("192.0.2.10", "net-iplsearch;" + path), "yes");
}

// deploy/exim/relaysync.acl in an rcpt ACL, run by exim -bh (a fake SMTP
// session from a given address): listed clients relay, others do not.
TEST_F(MtaReaderTest, TheDeployedEximAclRelaysListedClientsOnly) {
  const std::string path = dir_.File("relayers.db");
  Write(MapKind::kEximDbm, path,
        {{"192.0.2.7", 1764662400}, {"2001:db8::7", 1764662400}});
  std::string acl =
      testing::ReadFile(RELAYSYNC_SOURCE_DIR "/deploy/exim/relaysync.acl");
  ASSERT_TRUE(absl::StrContains(acl, "/etc/exim4/relayers.db"));
  acl = absl::StrReplaceAll(acl, {{"/etc/exim4/relayers.db", path}});
  // -bh gives up root before it reads the map: the folder must be open to
  // Exim's user, as /etc/exim4 is.
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  testing::WriteFile(dir_.File("exim.conf"),
                     absl::StrCat("exim_user = daemon\nexim_group = daemon\n",
                                  "spool_directory = ", dir_.path(), "/spool\n",
                                  "log_file_path = ", dir_.path(), "/%slog\n",
                                  "primary_hostname = mx.example.org\n"
                                  "domainlist local_domains = example.org\n"
                                  "acl_smtp_rcpt = acl_check_rcpt\n"
                                  "begin acl\nacl_check_rcpt:\n",
                                  acl,
                                  "\n  accept domains = +local_domains\n"
                                  "  deny message = relay not permitted\n"));
  auto relays = [&](const std::string& address) {
    testing::CommandResult r =
        testing::RunShell(absl::StrCat(Exim(), " -C ", dir_.File("exim.conf"),
                                       " -bh ", address, " 2>&1"),
                          "helo x\r\nmail from:<a@example.org>\r\n"
                          "rcpt to:<b@example.net>\r\nquit\r\n");
    if (absl::StrContains(r.output, "\n250 Accepted")) return "relays";
    if (absl::StrContains(r.output, "\n550 relay not permitted")) {
      return "refused";
    }
    ADD_FAILURE() << r.output;
    return "unexpected";
  };
  EXPECT_STREQ(relays("192.0.2.7"), "relays");
  EXPECT_STREQ(relays("2001:db8::7"), "relays");
  EXPECT_STREQ(relays("192.0.2.8"), "refused");
  EXPECT_STREQ(relays("2001:db8::8"), "refused");
}

}  // namespace
}  // namespace relaysync
