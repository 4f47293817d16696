// Scratch directories for tests and benchmarks: fresh, private, and removed
// with their contents when done (unless asked to keep them).
#ifndef RELAYSYNC_TESTING_SCRATCH_DIR_H_
#define RELAYSYNC_TESTING_SCRATCH_DIR_H_

#include <string>

#include "absl/status/statusor.h"

namespace relaysync::testing {

// A directory removed, contents and all, by the destructor unless kept.
// Fresh ones are made with mkdtemp (mode 0700) under /var/tmp: the same
// file system as a real /var/spool and /etc/mail, unlike a tmpfs /tmp, and
// a path sendmail-style "unsafe path" checks accept. Not thread-safe.
class ScratchDir {
 public:
  // A fresh /var/tmp/relaysync-test-XXXXXX. Aborts the process if none can
  // be made: a test without its directory could only write elsewhere.
  ScratchDir();
  // A benchmark's --work_dir: without `requested`, a fresh
  // /var/tmp/<prefix>XXXXXX; otherwise `requested`, created if missing,
  // which must be empty and is kept (its logs stay for inspection).
  static absl::StatusOr<ScratchDir> Create(const std::string& requested,
                                           const std::string& prefix);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Leaves the directory in place (after a failure, for its logs).
  void Keep() { remove_ = false; }

 private:
  ScratchDir(std::string path, bool remove)
      : path_(std::move(path)), remove_(remove) {}

  std::string path_;
  bool remove_ = false;
};

// Removes `path` and everything below it, without following symbolic
// links; true if nothing is left.
bool RemoveTree(const std::string& path);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_SCRATCH_DIR_H_
