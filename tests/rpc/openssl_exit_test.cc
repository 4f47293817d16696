// OpenSSL's exit handler frees per-thread state that gRPC's detached threads
// may still use as a process ends (an ASan double free in CI). Credentials
// must switch it off before gRPC initializes OpenSSL; each case runs in a
// child so that the handler order is the child's own.
#include <openssl/ssl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/tls.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

// Registered before OpenSSL can register its own handler, so it runs after
// it: once OpenSSL has cleaned up, it refuses to initialize again.
void ExitWithOpenSslState() {
  _exit(OPENSSL_init_ssl(0, nullptr) == 1 ? 0 : 3);
}

// The exit status of a child that runs `make_credentials`, initializes
// OpenSSL as gRPC does at its first handshake, and exits normally.
int ExitStatusAfter(const std::function<void()>& make_credentials) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::atexit(ExitWithOpenSslState);
    make_credentials();
    OPENSSL_init_ssl(0, nullptr);
    std::exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class OpenSslExitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(testing::RunShell(absl::StrCat(RELAYSYNC_MAKE_CERTS,
                                             " --coordinator=localhost "
                                             "--agent=mx1 ",
                                             dir_.path(), " >/dev/null"))
                  .exit_code,
              0);
  }

  TlsFiles Files(const std::string& name) const {
    TlsFiles files;
    files.ca = dir_.File("ca.pem");
    files.cert = dir_.File(name + ".pem");
    files.key = dir_.File(name + ".key");
    return files;
  }

  testing::ScratchDir dir_;
};

TEST_F(OpenSslExitTest, OpenSslCleansUpAtExitByDefault) {
  // The check below can fail: without relaysync's call, it does.
  EXPECT_EQ(ExitStatusAfter([] {}), 3);
}

TEST_F(OpenSslExitTest, ServerCredentialsKeepOpenSslUntilExit) {
  EXPECT_EQ(
      ExitStatusAfter([this] { MakeServerCredentials(Files("coordinator")); }),
      0);
}

TEST_F(OpenSslExitTest, ChannelCredentialsKeepOpenSslUntilExit) {
  EXPECT_EQ(
      ExitStatusAfter([this] { MakeChannelCredentials(Files("agent-mx1")); }),
      0);
}

}  // namespace
}  // namespace relaysync
