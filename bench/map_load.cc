// relayers-map-load MAP.db < INPUT: the library side of bench/map_build.sh.
// Reads makemap(8) input ("KEY<whitespace>VALUE" lines, values decimal
// ticks) and writes it into MAP.db through RelayersDb, kOpsPerApply entries
// per locked and synced Apply, as an agent loading a full snapshot would.
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "backends/map/relayers_db.h"
#include "common/ticks.h"

namespace relaysync {
namespace {

// Large enough that the per-Apply sync is amortised, small enough that
// sendmail is not locked out of the map for long.
constexpr size_t kOpsPerApply = 10000;

// Adds the entry on `line` to `batch`. Blank lines and '#' comments add
// nothing. Like makemap, a line must start with its key.
absl::Status AddLine(absl::string_view line, MapBatch* batch) {
  line = absl::StripTrailingAsciiWhitespace(line);  // also a CR from CRLF
  if (line.empty() || line[0] == '#') return absl::OkStatus();
  if (absl::ascii_isspace(static_cast<unsigned char>(line[0]))) {
    return absl::InvalidArgumentError("line starts with whitespace");
  }
  size_t split = 0;
  while (split < line.size() &&
         !absl::ascii_isspace(static_cast<unsigned char>(line[split]))) {
    ++split;
  }
  const absl::string_view key = line.substr(0, split);
  const absl::string_view value =
      absl::StripLeadingAsciiWhitespace(line.substr(split));
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no value for key ", key));
  }
  absl::StatusOr<int64_t> ticks =
      ParseTicks(value, absl::StrCat("value of key ", key));
  if (!ticks.ok()) return ticks.status();
  batch->Put(std::string(key), *ticks);
  return absl::OkStatus();
}

// Copies `in` into `db`; returns the exit status. Batches applied before a
// bad line stay written (makemap streams too), and the message says so.
int Load(std::istream& in, RelayersDb& db) {
  MapBatch batch;
  size_t written = 0;
  auto flush = [&]() -> bool {
    absl::StatusOr<ApplyResult> r = db.Apply(batch);
    if (!r.ok()) {
      std::cerr << "relayers-map-load: " << r.status().message() << "\n";
      return false;
    }
    written += batch.size();
    batch.Clear();
    return true;
  };
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    absl::Status s = AddLine(line, &batch);
    if (!s.ok()) {
      std::cerr << "relayers-map-load: <stdin>:" << line_no << ": "
                << s.message() << "\n";
      if (written > 0) {
        std::cerr << "relayers-map-load: the first " << written
                  << " entries were already written to " << db.path() << "\n";
      }
      return 1;
    }
    if (batch.size() >= kOpsPerApply && !flush()) return 1;
  }
  if (in.bad()) {
    std::cerr << "relayers-map-load: <stdin>: read error\n";
    return 1;
  }
  return flush() ? 0 : 1;
}

}  // namespace
}  // namespace relaysync

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '\0') {
    std::cerr << "usage: relayers-map-load MAP.db < INPUT\n";
    return 2;
  }
  // getline on a stdio-synchronised cin costs more than the map writes.
  std::ios::sync_with_stdio(false);
  absl::StatusOr<std::unique_ptr<relaysync::RelayersDb>> db =
      relaysync::RelayersDb::Open(argv[1],
                                  relaysync::RelayersDb::Mode::kReadWrite);
  if (!db.ok()) {
    std::cerr << "relayers-map-load: " << db.status().message() << "\n";
    return 1;
  }
  return relaysync::Load(std::cin, **db);
}
