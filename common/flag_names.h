// Command-line flags for relaysync's programs (Abseil flags). Operators
// write --data-dir; Abseil flag names are C identifiers (data_dir), so both
// spellings are accepted.
#ifndef RELAYSYNC_COMMON_FLAG_NAMES_H_
#define RELAYSYNC_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

namespace relaysync {

// Parses the flags in argv (rewriting the name part of each
// "--long-flag[=value]" so dashes work; arguments after "--" are left
// alone) with absl::ParseCommandLine. A bad flag exits with status 2 (the
// usage error every relaysync program documents), --help with 0. Returns
// the positional arguments, argv[0] first.
std::vector<std::string> ParseFlags(int argc, char** argv);

// Makes --help list the flags defined in files whose path ends with
// `main_file` (Abseil's default matches on the program name, which our
// main.cc files do not carry), and print dashed spellings in the usage;
// and makes --version print VersionLine(`program`) (common/version.h).
void SetFlagHelpFile(const std::string& main_file, const std::string& program);

// Every value given for --NAME or -NAME in argv, in order (Abseil keeps only
// the last of a repeated flag); arguments after "--" are not flags.
std::vector<std::string> FlagValues(int argc, char** argv,
                                    const std::string& name);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_FLAG_NAMES_H_
