#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace relaysync {

void NameThisThread(absl::string_view name) {
  // pthread_setname_np fails (ERANGE) on more than 15 bytes instead of
  // cutting; a name is a help, never a reason to stop.
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace relaysync
