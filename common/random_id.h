// Random identifiers (store epochs): 128 bits from getrandom(2), as hex.
#ifndef RELAYSYNC_COMMON_RANDOM_ID_H_
#define RELAYSYNC_COMMON_RANDOM_ID_H_

#include <string>

#include "absl/status/statusor.h"

namespace relaysync {

// 32 lower-case hex digits; Unavailable if the kernel gives no randomness.
absl::StatusOr<std::string> RandomHexId();

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_RANDOM_ID_H_
