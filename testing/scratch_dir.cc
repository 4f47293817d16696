#include "testing/scratch_dir.h"

#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace relaysync::testing {
namespace {

absl::StatusOr<std::string> MakeTemp(const std::string& prefix) {
  std::string templ = absl::StrCat("/var/tmp/", prefix, "XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("mkdtemp ", templ, ": ", std::strerror(errno)));
  }
  return templ;
}

bool IsEmptyDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return false;
  bool empty = true;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  return empty;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

}  // namespace

ScratchDir::ScratchDir() : remove_(true) {
  absl::StatusOr<std::string> path = MakeTemp("relaysync-test-");
  if (!path.ok()) {
    std::fprintf(stderr, "ScratchDir: %s\n",
                 std::string(path.status().message()).c_str());
    std::abort();
  }
  path_ = *std::move(path);
}

absl::StatusOr<ScratchDir> ScratchDir::Create(const std::string& requested,
                                              const std::string& prefix) {
  if (requested.empty()) {
    absl::StatusOr<std::string> path = MakeTemp(prefix);
    if (!path.ok()) return path.status();
    return ScratchDir(*std::move(path), /*remove=*/true);
  }
  if (mkdir(requested.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("mkdir ", requested, ": ", std::strerror(errno)));
  }
  if (!IsEmptyDir(requested)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--work_dir ", requested, ": must be an empty (or new) directory"));
  }
  return ScratchDir(requested, /*remove=*/false);
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept
    : path_(std::move(other.path_)), remove_(other.remove_) {
  other.remove_ = false;
}

ScratchDir::~ScratchDir() {
  if (remove_ && !path_.empty()) RemoveTree(path_);
}

bool RemoveTree(const std::string& path) {
  nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  struct stat st;
  return lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

}  // namespace relaysync::testing
