#include "coordinator/store_config.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "rpc/endpoints.h"

namespace relaysync {

absl::Status ResolveRedisConfig(
    StoreConfig* config,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv) {
  RedisStoreOptions& r = config->redis;
  if (!config->redis_sentinels.empty()) {
    absl::StatusOr<std::vector<std::string>> sentinels =
        ParseEndpoints(config->redis_sentinels);
    if (!sentinels.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis-sentinel: ", sentinels.status().message()));
    }
    r.sentinels = *sentinels;
    if (r.master_name.empty()) {
      return absl::InvalidArgumentError(
          "--redis-sentinel needs --redis-master-name");
    }
  } else if (config->redis_target.empty()) {
    return absl::InvalidArgumentError(
        "--store=redis needs --redis=HOST:PORT (or a unix socket path) or "
        "--redis-sentinel=HOST:PORT,... with --redis-master-name");
  } else if (config->redis_target[0] != '/') {
    absl::StatusOr<std::vector<std::string>> target =
        ParseEndpoints(config->redis_target);
    if (!target.ok() || target->size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis=", config->redis_target,
                       ": expected HOST:PORT or an absolute unix socket path"));
    }
  }
  r.address = config->redis_target;
  if (!config->redis_password_file.empty()) {
    std::ifstream in(config->redis_password_file);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--redis-password-file: cannot read ", config->redis_password_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    r.password = std::string(absl::StripTrailingAsciiWhitespace(text.str()));
  } else if (r.password.empty()) {
    if (auto env = getenv("RELAYSYNC_REDIS_PASSWORD")) r.password = *env;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) {
  if (config.kind == "embedded") {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> s =
        EmbeddedStore::Open(config.embedded);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (config.kind == "redis") {
    absl::StatusOr<std::unique_ptr<RedisStore>> s =
        RedisStore::Open(config.redis);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--store=", config.kind, ": unknown store (embedded or redis)"));
}

}  // namespace relaysync
