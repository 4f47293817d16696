// Free text that arrives with a login (the user name, the source) is bytes
// from whoever wrote the log line, the datagram or the wire: any encoding,
// any length. It is carried as bytes (proto `bytes`, so a Latin-1 name can
// never make a message unparseable) and made safe here where it enters the
// agent through a line-based format (the notify datagram): bounded in
// length, with control characters escaped so that it cannot break the
// format. The coordinator only cuts what an agent sends, and escapes it
// wherever it shows it (logs, audit, vsmtprelay --attribution).
#ifndef RELAYSYNC_COMMON_LOGIN_TEXT_H_
#define RELAYSYNC_COMMON_LOGIN_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {

// `raw` with every control character (below 0x20, and 0x7f) written as
// "\xNN", cut to at most `max_bytes` bytes (by default the protocol's
// limit on a user name or source) without splitting an escape or a
// UTF-8 sequence. Other bytes, valid UTF-8 or not, are kept as they are.
// Idempotent, so applying it twice on the way does no harm. (A
// backslash is not escaped: a name that really contains "\x0a" reads like
// one with a newline, which costs nothing but a second look.)
std::string CleanLoginText(absl::string_view raw,
                           size_t max_bytes = kMaxTextField);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_LOGIN_TEXT_H_
