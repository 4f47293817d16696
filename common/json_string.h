// JSON string literals from untrusted bytes (log messages carry user names
// and mail-log lines an attacker may have chosen): the result is always
// one line of valid UTF-8 JSON, whatever the input.
#ifndef RELAYSYNC_COMMON_JSON_STRING_H_
#define RELAYSYNC_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace relaysync {

// Appends `bytes` to `out` as a quoted JSON string. Well-formed UTF-8 is
// kept as it is; '"' and '\' are escaped, control bytes (newline, NUL, DEL
// ...) become \n, \t, \r or \u00XX, and every byte that is not part of a
// well-formed UTF-8 sequence (overlong forms, surrogates and code points
// above U+10FFFF included) becomes \ufffd, as decoders replace them.
void AppendJsonString(std::string* out, absl::string_view bytes);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_JSON_STRING_H_
