// NameThisThread: the name `top -H`, `ps -L`, gdb and perf show for the
// calling thread, so an operator can tell the notify thread from the sync
// reader instead of a dozen lines all named after the program.
#ifndef RELAYSYNC_COMMON_THREAD_NAME_H_
#define RELAYSYNC_COMMON_THREAD_NAME_H_

#include "absl/strings/string_view.h"

namespace relaysync {

// Linux keeps 15 bytes of it; a longer name is cut there.
void NameThisThread(absl::string_view name);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_THREAD_NAME_H_
