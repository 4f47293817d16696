// relaysync's version, written once: the VERSION of project() in the top
// CMakeLists.txt, compiled into version.cc. Every program's --version and
// the agent's Hello to the coordinator carry it.
#ifndef RELAYSYNC_COMMON_VERSION_H_
#define RELAYSYNC_COMMON_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace relaysync {

// "0.1.0".
absl::string_view RelaysyncVersion();

// What `program --version` prints (without a newline): "relaysync-agent
// (relaysync) 0.1.0".
std::string VersionLine(absl::string_view program);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_VERSION_H_
