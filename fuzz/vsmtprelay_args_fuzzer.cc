// Fuzz target: vsmtprelay's command line (cli/vsmtprelay.h), run in-process
// on a relayers.db in a scratch directory with a fake clock and an empty
// environment except HOME (the scratch directory). The input is the
// arguments separated by NUL bytes. Inputs that name another map (--db) or
// a coordinator are skipped, and --db=<scratch>/relayers.db goes first, so
// no file outside the scratch directory is touched and nothing is sent.
// Asserts: the exit status is 0, 1 or 2; a failure or usage error says why
// on stderr; a usage error (arguments are all validated first) leaves the
// map byte for byte as it was.
#include <unistd.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "cli/vsmtprelay.h"
#include "common/address.h"
#include "common/clock.h"
#include "common/logging.h"
#include "fuzz/fuzz_util.h"

namespace relaysync {
namespace {

constexpr size_t kMaxArgs = 12;

bool NamesAnotherTarget(const std::string& arg) {
  for (absl::string_view name : {"--db", "--coordinator"}) {
    if (arg == name || absl::StartsWith(arg, absl::StrCat(name, "="))) {
      return true;
    }
  }
  return false;
}

struct Result {
  int code;
  std::string out, err;
};

Result Run(const std::vector<std::string>& args) {
  static FakeClock clock(absl::FromUnixSeconds(1795000000));
  CliContext ctx;
  ctx.clock = &clock;
  ctx.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return fuzz::ScratchDir();
    return std::nullopt;
  };
  std::ostringstream out, err;
  int code = RunVsmtprelay(args, ctx, out, err);
  return Result{code, out.str(), err.str()};
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relaysync;
  std::vector<std::string> words =
      absl::StrSplit(fuzz::AsText(data, size), '\0');
  if (words.size() > kMaxArgs) return 0;
  for (const std::string& w : words) {
    if (NamesAnotherTarget(w)) return 0;
  }
  const std::string db = fuzz::ScratchDir() + "/relayers.db";
  unlink(db.c_str());
  // A map with one entry, so that delete, list and expire have work.
  Result seed = Run({"--db=" + db, "add", "192.0.2.1", "1700000000"});
  FUZZ_CHECK(seed.code == kExitOk, seed.err);
  const std::string before = fuzz::ReadWholeFile(db);

  std::vector<std::string> args = {"--db=" + db};
  args.insert(args.end(), words.begin(), words.end());
  Result r = Run(args);
  FUZZ_CHECK(
      r.code == kExitOk || r.code == kExitFailure || r.code == kExitUsage,
      r.err);
  if (r.code != kExitOk) FUZZ_CHECK(!r.err.empty(), "silent failure");
  if (r.code == kExitUsage) {
    FUZZ_CHECK(fuzz::ReadWholeFile(db) == before, "usage error wrote the map");
  }
  return 0;
}
