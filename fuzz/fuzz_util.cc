// See fuzz_util.h.
#include "fuzz/fuzz_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace relaysync::fuzz {
namespace {

std::string* scratch = nullptr;

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path);
}

void RemoveScratch() {
  if (scratch != nullptr) {
    nftw(scratch->c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

}  // namespace

void Fail(const char* file, int line, const char* cond,
          absl::string_view what) {
  fprintf(stderr, "%s:%d: invariant failed: %s: %.*s\n", file, line, cond,
          static_cast<int>(what.size()), what.data());
  abort();
}

const std::string& ScratchDir() {
  if (scratch == nullptr) {
    struct stat st;
    std::string base = "/dev/shm";
    if (stat(base.c_str(), &st) != 0 || access(base.c_str(), W_OK) != 0) {
      const char* tmp = getenv("TMPDIR");
      base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::string templ = base + "/relaysync-fuzz.XXXXXX";
    if (mkdtemp(&templ[0]) == nullptr) {
      Fail(__FILE__, __LINE__, "mkdtemp", strerror(errno));
    }
    scratch = new std::string(templ);
    atexit(RemoveScratch);
  }
  return *scratch;
}

void WriteWholeFile(const std::string& path, absl::string_view contents) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Fail(__FILE__, __LINE__, "open", path);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) Fail(__FILE__, __LINE__, "write", path);
    done += static_cast<size_t>(n);
  }
  close(fd);
}

std::string ReadWholeFile(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

}  // namespace relaysync::fuzz
