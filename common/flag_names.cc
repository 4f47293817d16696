#include "common/flag_names.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

std::vector<std::string> FlagValues(int argc, char** argv,
                                    const std::string& name) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      continue;
    }
    if (!absl::ConsumePrefix(&arg, name)) continue;
    if (absl::ConsumePrefix(&arg, "=")) {
      values.emplace_back(arg);
    } else if (arg.empty() && i + 1 < argc) {
      values.emplace_back(argv[++i]);
    }
  }
  return values;
}

namespace {

std::vector<char*> DashesToUnderscores(int argc, char** argv,
                                       std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(argc);
  bool done = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") done = true;
    if (!done && i > 0 && arg.size() > 2 && arg[0] == '-') {
      size_t start = arg[1] == '-' ? 2 : 1;
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = start; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    storage->push_back(std::move(arg));
  }
  std::vector<char*> out;
  for (std::string& s : *storage) out.push_back(s.data());
  return out;
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

std::vector<std::string> ParseFlags(int argc, char** argv) {
  std::vector<std::string> storage;
  std::vector<char*> args = DashesToUnderscores(argc, argv, &storage);
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
