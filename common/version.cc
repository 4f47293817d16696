#include "common/version.h"

#include "absl/strings/str_cat.h"

#ifndef RELAYSYNC_VERSION
#error "RELAYSYNC_VERSION comes from project(VERSION) (common/CMakeLists.txt)"
#endif

namespace relaysync {

absl::string_view RelaysyncVersion() { return RELAYSYNC_VERSION; }

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " (relaysync) ", RelaysyncVersion());
}

}  // namespace relaysync
