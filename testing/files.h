// Whole-file reads and writes for tests and benchmarks, and counting what a
// log says.
#ifndef RELAYSYNC_TESTING_FILES_H_
#define RELAYSYNC_TESTING_FILES_H_

#include <cstddef>
#include <string>

namespace relaysync::testing {

// The file's contents; "" if it cannot be read.
std::string ReadFile(const std::string& path);
// Replaces the file's contents (creating it, mode 0644 less umask).
void WriteFile(const std::string& path, const std::string& contents);
// Appends `text` with one write(2), as a logging daemon does (creating the
// file, mode 0644); false if it could not.
bool AppendToFile(const std::string& path, const std::string& text);

// How often `what` occurs in `text` from byte `from` on (e.g. reconnects
// in a log).
int CountOccurrences(const std::string& text, const std::string& what,
                     size_t from = 0);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_FILES_H_
