// relaysync-agent check-config against real files and an in-process
// coordinator on loopback with mutual TLS (certificates from
// scripts/make-certs.sh): each check passes on a good setup and fails, saying
// why, on a broken one.
#include "agent/check_config.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/file_access.h"
#include "backends/store/embedded_store.h"
#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/free_port.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunShell;

// The maps live where sendmail would accept them: in the first of these
// with no group- or world-writable directory on the way (unlike /var/tmp,
// or a clone under /tmp): the build tree, then /var/lib and /run (as root,
// as CI runs).
class SafeDir {
 public:
  SafeDir() {
    for (const std::string& parent :
         {std::string(RELAYSYNC_SAFE_DIR), std::string("/var/lib"),
          std::string("/run")}) {
      if (!UnsafeDirs(parent + "/x").empty()) continue;
      std::string tmpl = parent + "/relaysync-check-config-XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) continue;
      path_ = tmpl;
      chmod(path_.c_str(), 0755);  // the MTA user must pass
      return;
    }
  }
  ~SafeDir() {
    if (!path_.empty()) testing::RemoveTree(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CheckResult {
  int code;
  std::string out;
};

class CheckConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(safe_.path().empty())
        << "no directory without a group- or world-writable parent: "
        << RELAYSYNC_SAFE_DIR << ", /var/lib, /run";
    ASSERT_THAT(UnsafeDirs(safe_.path() + "/x"), ::testing::IsEmpty())
        << "the build tree must not be group- or world-writable";
    MakeCerts("tls", "--coordinator=localhost,127.0.0.1 --agent=mx1");
    MakeCerts("tls", "--days=-1 --agent=old");
    MakeCerts("other-ca", "--agent=mx1");
    StartCoordinator();
    map_ = safe_.path() + "/relayers.db";
    testing::WriteFile(map_, "");
    chmod(map_.c_str(), 0644);
    log_ = safe_.path() + "/dovecot.log";
    testing::WriteFile(log_, "");
    chmod(log_.c_str(), 0640);
    socket_ = safe_.path() + "/notify.sock";
    ASSERT_TRUE(Listen(socket_));
    options_.maps = {MapOutput{MapKind::kSendmail, map_}};
    options_.coordinators = {absl::StrCat("127.0.0.1:", coordinator_->port())};
    options_.tls = Tls("tls", "agent-mx1");
    options_.host_id = "mx1";
    options_.notify_socket = socket_;
    options_.watch_logs = {log_};
  }

  void TearDown() override {
    if (socket_fd_ >= 0) close(socket_fd_);
  }

  void MakeCerts(const std::string& dir, const std::string& flags) {
    ASSERT_EQ(RunShell(absl::StrCat(RELAYSYNC_MAKE_CERTS, " ", flags, " ",
                                    certs_.File(dir), " >/dev/null"))
                  .exit_code,
              0);
  }

  TlsFiles Tls(const std::string& dir, const std::string& name) const {
    TlsFiles t;
    t.ca = certs_.File("tls/ca.pem");
    t.cert = certs_.File(dir + "/" + name + ".pem");
    t.key = certs_.File(dir + "/" + name + ".key");
    return t;
  }

  void StartCoordinator() {
    EmbeddedStoreOptions store_options;
    store_options.data_dir = certs_.File("data");
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.tls.ca = certs_.File("tls/ca.pem");
    options.tls.cert = certs_.File("tls/coordinator.pem");
    options.tls.key = certs_.File("tls/coordinator.key");
    options.audit_log = certs_.File("audit.log");
    auto c = Coordinator::Start(std::move(*store), options, &clock_);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::move(*c);
  }

  // A datagram socket bound at `path`, as the agent's notify socket.
  bool Listen(const std::string& path) {
    socket_fd_ = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return socket_fd_ >= 0 &&
           bind(socket_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
               0 &&
           chmod(path.c_str(), 0660) == 0;
  }

  CheckResult Check() {
    std::ostringstream out;
    const int code = CheckConfig(options_, out);
    return CheckResult{code, out.str()};
  }

  testing::ScratchDir certs_;
  SafeDir safe_;
  SystemClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::string map_, log_, socket_;
  int socket_fd_ = -1;
  CheckConfigOptions options_;
};

TEST_F(CheckConfigTest, AGoodSetupPassesEveryCheck) {
  CheckResult r = Check();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  const std::string map = "map sendmail:" + map_;
  EXPECT_THAT(r.out,
              HasSubstr("ok: " + map + ": writable by the agent's user"));
  EXPECT_THAT(r.out,
              HasSubstr("ok: " + map + ": readable by the MTA user root"));
  EXPECT_THAT(r.out, HasSubstr("ok: " + map +
                               ": no group- or world-writable directory"));
  EXPECT_THAT(r.out, HasSubstr("identity spiffe://relaysync/agent/mx1"));
  EXPECT_THAT(r.out, HasSubstr("ok: coordinator 127.0.0.1:"));
  EXPECT_THAT(r.out, HasSubstr("answers over mutual TLS"));
  EXPECT_THAT(r.out, HasSubstr("ok: --notify-socket " + socket_));
  EXPECT_THAT(r.out, HasSubstr("ok: --watch-log " + log_));
  EXPECT_THAT(r.out, HasSubstr("check-config: 0 failed, 0 warnings"));
}

TEST_F(CheckConfigTest, AGroupWritableDirectoryFailsTheSendmailMap) {
  ASSERT_EQ(chmod(safe_.path().c_str(), 0775), 0);
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         "FAIL: map sendmail:", map_,
                         ": group- or world-writable directory on its path: ",
                         safe_.path(), " (mode 0775): sendmail refuses")));
  // Another kind's reader does not refuse it: a warning.
  options_.maps = {MapOutput{MapKind::kPostfixHash, map_}};
  options_.mta_user = "root";
  r = Check();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("warn: map postfix-hash:" + map_ +
                               ": group- or world-writable directory"));
}

TEST_F(CheckConfigTest, AMapTheMtaUserCannotReadFails) {
  ASSERT_EQ(chmod(map_.c_str(), 0600), 0);
  options_.mta_user = "nobody";
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: map sendmail:" + map_ +
                               ": the MTA user nobody cannot read it (mode "
                               "0600"));
  ASSERT_EQ(chmod(map_.c_str(), 0644), 0);
  r = Check();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("readable by the MTA user nobody"));
}

TEST_F(CheckConfigTest, AWorldWritableMapFails) {
  ASSERT_EQ(chmod(map_.c_str(), 0666), 0);
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: map sendmail:" + map_ +
                               ": writable by everyone (mode 0666)"));
}

TEST_F(CheckConfigTest, AWrongCaIsNamed) {
  options_.tls.ca = certs_.File("other-ca/ca.pem");
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: coordinator 127.0.0.1:"));
  EXPECT_THAT(r.out, HasSubstr("wrong CA: the coordinator's certificate"));
}

TEST_F(CheckConfigTest, ACertificateFromAnotherCaIsRefusedByTheCoordinator) {
  options_.tls = Tls("other-ca", "agent-mx1");
  options_.tls.ca = certs_.File("tls/ca.pem");
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("the coordinator refused this agent's "
                               "certificate"));
  EXPECT_THAT(r.out, HasSubstr("warn: --tls-cert " + options_.tls.cert +
                               ": not signed by --tls-ca"));
}

TEST_F(CheckConfigTest, AnExpiredCertificateIsNamed) {
  options_.tls = Tls("tls", "agent-old");
  options_.host_id = "old";
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: --tls-cert " + options_.tls.cert +
                               ": expired certificate: it expired on "));
  EXPECT_THAT(r.out, HasSubstr("FAIL: coordinator 127.0.0.1:"));
}

TEST_F(CheckConfigTest, ANameTheCoordinatorsCertificateLacksIsNamed) {
  options_.tls.server_name = "mx.example.org";
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("name mismatch: the coordinator's certificate "
                               "is not valid for \"mx.example.org\""));
}

TEST_F(CheckConfigTest, ACertificateForAnotherHostIdFails) {
  options_.host_id = "mx2";
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("does not end in /mx2: the coordinator "
                               "refuses this agent's hello"));
}

TEST_F(CheckConfigTest, ACoordinatorThatIsDownIsUnreachable) {
  options_.coordinators = {
      absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort())};
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: coordinator 127.0.0.1:"));
  EXPECT_THAT(r.out, HasSubstr(": unreachable: Connection refused"));
  // One of two down: the agent fails over, a warning.
  options_.coordinators.push_back(
      absl::StrCat("127.0.0.1:", coordinator_->port()));
  r = Check();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("warn: coordinator 127.0.0.1:"));
}

TEST_F(CheckConfigTest, AMissingNotifySocketFails) {
  close(socket_fd_);
  socket_fd_ = -1;
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  // Left behind by an agent that stopped.
  EXPECT_THAT(r.out, HasSubstr("FAIL: --notify-socket " + socket_ +
                               ": nothing listens on it"));
  unlink(socket_.c_str());
  r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: --notify-socket " + socket_ +
                               ": No such file or directory"));
}

TEST_F(CheckConfigTest, ANotifySocketThePostLoginUserCannotWriteFails) {
  options_.notify_user = "nobody";
  options_.notify_allow_users = {"nobody"};
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("the post-login user nobody cannot write to it "
                               "(mode 0660"));
  ASSERT_EQ(chmod(socket_.c_str(), 0666), 0);
  r = Check();
  EXPECT_EQ(r.code, 0) << r.out;
  // Allowed to write, but not among the senders the agent believes.
  options_.notify_allow_users.clear();
  r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("the agent refuses reports from the post-login "
                               "user nobody: add --notify-allow-uid=nobody"));
}

TEST_F(CheckConfigTest, AWatchedLogOthersCanWriteFails) {
  ASSERT_EQ(chmod(log_.c_str(), 0664), 0);
  CheckResult r = Check();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL: --watch-log " + log_ +
                               ": writable by group or others (mode 0664)"));
}

}  // namespace
}  // namespace relaysync
