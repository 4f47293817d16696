#include "common/flag_names.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/version.h"

namespace relaysync {

void SetFlagHelpFile(const std::string& main_file, const std::string& program) {
  absl::FlagsUsageConfig config;
  config.version_string = [program] {
    return absl::StrCat(VersionLine(program), "\n");
  };
  config.contains_help_flags = [main_file](absl::string_view path) {
    return absl::EndsWith(path, main_file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.normalize_filename = [main_file](absl::string_view path) {
    return absl::EndsWith(path, main_file) ? main_file : std::string(path);
  };
  absl::SetFlagsUsageConfig(config);
}

namespace {

// Rewrites the name part of each "--long-flag[=value]" in `args` (argv[0]
// first) so dashes work; arguments after "--" are left alone.
void DashesToUnderscores(std::vector<std::string>* args) {
  for (size_t i = 1; i < args->size(); ++i) {
    std::string& arg = (*args)[i];
    if (arg == "--") return;
    if (arg.size() > 2 && arg[0] == '-') {
      size_t start = arg[1] == '-' ? 2 : 1;
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = start; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
  }
}

// A flagfile that names itself, directly or not, ends here.
constexpr int kMaxFlagfileDepth = 10;

absl::Status AppendExpanded(const std::vector<std::string>& args, int depth,
                            std::vector<std::string>* out);

// The flags in flagfile `path`, as AppendExpanded takes them. Errors name
// the file and the line.
absl::StatusOr<std::vector<std::string>> ReadFlagfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flagfile: ", path, ": ", std::strerror(errno)));
  }
  std::vector<std::string> flags;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view flag = absl::StripAsciiWhitespace(line);
    if (flag.empty() || flag[0] == '#') continue;
    if (flag[0] != '-' || flag == "--") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--flagfile: ", path, ":", number, ": \"", absl::CHexEscape(flag),
          "\" is not a flag (one --name=value a line; '#' starts a comment "
          "line)"));
    }
    flags.emplace_back(flag);
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flagfile: ", path, ": read error"));
  }
  return flags;
}

// Appends `args` to `out`, each --flagfile replaced by its files' flags.
absl::Status AppendExpanded(const std::vector<std::string>& args, int depth,
                            std::vector<std::string>* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      out->insert(out->end(), args.begin() + static_cast<long>(i), args.end());
      return absl::OkStatus();
    }
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "--")) absl::ConsumePrefix(&name, "-");
    std::string files;
    if (name == "flagfile") {
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError("--flagfile: missing file name");
      }
      files = args[++i];
    } else if (absl::ConsumePrefix(&name, "flagfile=")) {
      files = std::string(name);
    } else {
      out->push_back(args[i]);
      continue;
    }
    if (depth >= kMaxFlagfileDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("--flagfile: ", files, ": nested more than ",
                       kMaxFlagfileDepth, " deep (does it name itself?)"));
    }
    if (files.empty()) {
      return absl::InvalidArgumentError("--flagfile: missing file name");
    }
    for (absl::string_view path : absl::StrSplit(files, ',')) {
      absl::StatusOr<std::vector<std::string>> flags =
          ReadFlagfile(std::string(path));
      if (!flags.ok()) return flags.status();
      if (absl::Status s = AppendExpanded(*flags, depth + 1, out); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

// Set while absl::ParseCommandLine runs: it exits by itself, with status 1,
// on a bad flag and after --help. Our programs document 2 for bad
// arguments (as sendmail's tools and vsmtprelay 1.1.0 do) and 0 for help.
int g_exit_while_parsing = -1;

// Runs from exit(): the usage text must reach a pipe before _exit.
void ExitAsDocumented() {
  if (g_exit_while_parsing < 0) return;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(g_exit_while_parsing);
}

std::string Basename(const char* path) {
  absl::string_view p = path;
  const size_t slash = p.rfind('/');
  return std::string(slash == absl::string_view::npos ? p
                                                      : p.substr(slash + 1));
}

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (absl::StartsWith(arg, "--help") || absl::StartsWith(arg, "-help") ||
        arg == "--version" || arg == "-version") {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandFlagfiles(int argc,
                                                         char** argv) {
  std::vector<std::string> expanded;
  if (argc < 1) return expanded;
  expanded.push_back(argv[0]);
  absl::Status s =
      AppendExpanded(std::vector<std::string>(argv + 1, argv + argc),
                     /*depth=*/0, &expanded);
  if (!s.ok()) return s;
  return expanded;
}

std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            const std::string& name) {
  absl::StatusOr<std::vector<std::string>> args = ExpandFlagfiles(argc, argv);
  if (!args.ok()) return {};
  DashesToUnderscores(&*args);
  std::string wanted = name;
  std::replace(wanted.begin(), wanted.end(), '-', '_');
  std::vector<std::string> values;
  for (size_t i = 1; i < args->size(); ++i) {
    absl::string_view arg = (*args)[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      continue;
    }
    if (!absl::ConsumePrefix(&arg, wanted)) continue;
    if (absl::ConsumePrefix(&arg, "=")) {
      values.emplace_back(arg);
    } else if (arg.empty() && i + 1 < args->size()) {
      values.push_back((*args)[++i]);
    }
  }
  return values;
}

std::vector<std::string> ParseFlags(int argc, char** argv) {
  absl::StatusOr<std::vector<std::string>> storage =
      ExpandFlagfiles(argc, argv);
  if (!storage.ok()) {
    std::cerr << (argc > 0 ? Basename(argv[0]) : "relaysync") << ": "
              << storage.status().message() << "\n";
    std::exit(2);
  }
  DashesToUnderscores(&*storage);
  std::vector<char*> args;
  for (std::string& s : *storage) args.push_back(s.data());
  static const bool registered = std::atexit(ExitAsDocumented) == 0;
  (void)registered;
  std::fflush(stdout);
  g_exit_while_parsing = AsksForHelp(argc, argv) ? 0 : 2;
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  g_exit_while_parsing = -1;
  return std::vector<std::string>(positional.begin(), positional.end());
}

}  // namespace relaysync
