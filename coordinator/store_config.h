// Which Store the coordinator runs on, as the operator configured it, and
// opening it. Secrets (the Redis password) come from a file or the
// environment so they need not appear on a command line.
#ifndef RELAYSYNC_COORDINATOR_STORE_CONFIG_H_
#define RELAYSYNC_COORDINATOR_STORE_CONFIG_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "backends/store/embedded_store.h"
#include "backends/store/redis_store.h"
#include "backends/store/store.h"

namespace relaysync {

struct StoreConfig {
  std::string kind = "embedded";  // "embedded" or "redis"
  EmbeddedStoreOptions embedded;
  RedisStoreOptions redis;
  // --redis flag text: "HOST:PORT" or "/path/to.sock".
  std::string redis_target;
  std::string redis_sentinels;  // "HOST:PORT,HOST:PORT"
  std::string redis_password_file;
};

// Fills config->redis from the flag texts, reading the password from
// `redis_password_file` or, if neither it nor a password was given, from
// the environment variable RELAYSYNC_REDIS_PASSWORD (via `getenv`).
absl::Status ResolveRedisConfig(
    StoreConfig* config,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv);

// Opens the configured store once.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreConfig& config);

}  // namespace relaysync

#endif  // RELAYSYNC_COORDINATOR_STORE_CONFIG_H_
