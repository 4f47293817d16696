#include "common/thread_name.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

// What ps -L and top -H show for the calling thread.
std::string OwnName() {
  std::ifstream comm("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) +
                     "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

std::string NameIn(const std::string& given) {
  std::string seen;
  std::thread t([&] {
    NameThisThread(given);
    seen = OwnName();
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, TheThreadShowsTheName) {
  EXPECT_EQ(NameIn("sync-read"), "sync-read");
}

TEST(ThreadNameTest, ALongNameIsCutAtFifteenBytes) {
  EXPECT_EQ(NameIn("a-name-longer-than-fifteen"), "a-name-longer-t");
}

}  // namespace
}  // namespace relaysync
