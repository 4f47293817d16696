#include "common/flag_names.h"

#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace relaysync {

void SetFlagHelpFile(const std::string& main_file) {
  absl::FlagsUsageConfig config;
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

}  // namespace

std::vector<std::string> ParseFlags(int argc, char** argv) {
  std::vector<std::string> storage;
  std::vector<char*> args = DashesToUnderscores(argc, argv, &storage);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  return std::vector<std::string>(positional.begin(), positional.end());
}

}  // namespace relaysync
