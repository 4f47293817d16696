// Command-line flags for relaysync's programs (Abseil flags). Operators
// write --data-dir; Abseil flag names are C identifiers (data_dir), so both
// spellings are accepted, also in the files of --flagfile (the programs'
// configuration files: docs/operations.md, "Configuration files").
#ifndef RELAYSYNC_COMMON_FLAG_NAMES_H_
#define RELAYSYNC_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace relaysync {

// Parses the flags in argv (rewriting the name part of each
// "--long-flag[=value]" so dashes work; arguments after "--" are left
// alone) with absl::ParseCommandLine, after ExpandFlagfiles. A bad flag or
// flagfile exits with status 2 (the usage error every relaysync program
// documents), --help with 0. Returns the positional arguments, argv[0]
// first.
std::vector<std::string> ParseFlags(int argc, char** argv);

// argv with each --flagfile=FILE[,FILE...] (or "--flagfile FILE") replaced,
// in place, by the flags in its files, as Abseil reads them: one flag a
// line ("--spool-dir=/var/spool/relaysync", the value runs to the end of
// the line, no quotes), blank lines and lines starting with '#' ignored,
// and a --flagfile inside one read in turn. Blanks around a line are
// dropped. Later flags win, so flags given after --flagfile override the
// file. Errors name the file (and the line).
absl::StatusOr<std::vector<std::string>> ExpandFlagfiles(int argc, char** argv);

// Every value given for --NAME or -NAME (dashes or underscores), in order,
// on the command line and in its flagfiles: for a flag that may be
// repeated, of which Abseil keeps only the last. Arguments after "--" are
// not flags. Call after ParseFlags (a bad flagfile yields nothing here).
std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            const std::string& name);

// Makes --help list the flags defined in files whose path ends with
// `main_file` (Abseil's default matches on the program name, which our
// main.cc files do not carry), and print dashed spellings in the usage;
// and makes --version print VersionLine(`program`) (common/version.h).
void SetFlagHelpFile(const std::string& main_file, const std::string& program);

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_FLAG_NAMES_H_
