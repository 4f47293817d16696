// Runs vsmtprelay in-process against a scratch HOME with a fake clock.
#ifndef RELAYSYNC_TESTS_CLI_CLI_TEST_UTIL_H_
#define RELAYSYNC_TESTS_CLI_CLI_TEST_UTIL_H_

#include <sys/stat.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/vsmtprelay.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace relaysync::testing {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

class CliFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 2000000000;  // Wed May 18 03:33:20 2033

  CliFixture() {
    mkdir((dir_.path() + "/etc").c_str(), 0755);
    env_["HOME"] = dir_.path();
  }

  CliResult Run(std::vector<std::string> args) {
    CliContext ctx;
    ctx.clock = &clock_;
    ctx.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    std::ostringstream out, err;
    int code = RunVsmtprelay(args, ctx, out, err);
    return CliResult{code, out.str(), err.str()};
  }

  // The default map: $HOME/etc/relayers.db.
  std::string DefaultDb() const { return dir_.path() + "/etc/relayers.db"; }

  ScratchDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(kNow)};
  std::map<std::string, std::string> env_;
};

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_CLI_CLI_TEST_UTIL_H_
