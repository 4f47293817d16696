// Helpers shared by the fuzz targets: an invariant check that stops the run
// with a message (libFuzzer saves the input as a crash), and a private
// scratch directory so no target touches a file outside it.
#ifndef RELAYSYNC_FUZZ_FUZZ_UTIL_H_
#define RELAYSYNC_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

// Aborts with `what` and the location when `cond` is false.
#define FUZZ_CHECK(cond, what)                                             \
  do {                                                                     \
    if (!(cond)) ::relaysync::fuzz::Fail(__FILE__, __LINE__, #cond, what); \
  } while (0)

namespace relaysync::fuzz {

[[noreturn]] void Fail(const char* file, int line, const char* cond,
                       absl::string_view what);

// The input as text (may hold any byte, NULs included).
inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// A directory made once per process (under /dev/shm when it exists, so that
// fsync costs nothing, else $TMPDIR or /tmp) and removed at exit.
const std::string& ScratchDir();

// Replaces `path` with `contents`; aborts on an I/O error.
void WriteWholeFile(const std::string& path, absl::string_view contents);
// The file's bytes, or "" if it does not exist.
std::string ReadWholeFile(const std::string& path);

}  // namespace relaysync::fuzz

#endif  // RELAYSYNC_FUZZ_FUZZ_UTIL_H_
