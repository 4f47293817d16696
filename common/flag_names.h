// Operators write --data-dir; Abseil flag names are C identifiers
// (data_dir). Rewrites the name part of each "--long-flag[=value]" argument
// so both spellings work. Arguments after "--" are left alone.
#ifndef RELAYSYNC_COMMON_FLAG_NAMES_H_
#define RELAYSYNC_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

namespace relaysync {

// Returns the rewritten arguments; `storage` keeps the strings alive for the
// returned pointers.
std::vector<char*> DashesToUnderscores(int argc, char** argv,
                                       std::vector<std::string>* storage);

// Makes --help list the flags defined in files whose path ends with
// `main_file` (Abseil's default matches on the program name, which our
// main.cc files do not carry), and print dashed spellings in the usage.
void SetFlagHelpFile(const std::string& main_file);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_FLAG_NAMES_H_
