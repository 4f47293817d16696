// vsmtprelay entry point: see cli/vsmtprelay.h and docs/vsmtprelay.1.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/vsmtprelay.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  relaysync::CliContext ctx;
  ctx.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  int status = relaysync::RunVsmtprelay(args, ctx, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
