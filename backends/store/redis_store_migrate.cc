// RedisStore::MigrateLayout: the one-time move from an older relaysync's
// record hash, step by step (the Lua is kMigrate in redis_scripts.cc). The
// rest of RedisStore is in redis_store.cc and redis_store_read.cc.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/store/redis_store.h"
#include "common/logging.h"

namespace relaysync {

using redis::Script;

absl::StatusOr<RedisReply> RedisStore::MigrateStep(const std::string& step,
                                                   const std::string& cursor,
                                                   int chunk) {
  return WithRetry(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<RedisReply> {
        const std::string what = absl::StrCat("migrate layout: ", step);
        absl::StatusOr<std::vector<std::string>> argv =
            ScriptCommand(Script::kMigrate);
        if (!argv.ok()) return argv.status();
        argv->push_back(step);
        argv->push_back(cursor);
        argv->push_back(absl::StrCat(chunk));
        absl::StatusOr<RedisReply> reply =
            RunScript(*conn_, Script::kMigrate, &*argv);
        if (!reply.ok()) return Error(*conn_, what.c_str(), reply.status());
        if (ReplyIsError(reply->get())) {
          return ReplyError(*conn_, what.c_str(), ReplyText(reply->get()));
        }
        return reply;
      });
}

absl::StatusOr<RedisStore::MigrationReport> RedisStore::MigrateLayout(
    const RedisStoreOptions& options, int chunk) {
  absl::Status s = CheckOptions(options);
  if (!s.ok()) return s;
  chunk = std::clamp(chunk, 1, 2000);  // a step's replies unpack in Lua
  std::unique_ptr<RedisStore> store(new RedisStore(options));
  s = store->LoadScripts();
  if (!s.ok()) return s;
  MigrationReport report;
  absl::StatusOr<RedisReply> fence = store->MigrateStep("fence", "0", chunk);
  if (!fence.ok()) return fence.status();
  int64_t pending = 0;
  ReplyInt(fence->get(), &pending);
  if (pending == 0) return report;  // nothing of an older layout
  report.migrated = true;
  // Records first (their index entries agree with them after), then each
  // set's members without a record. A SCAN cursor ends at "0".
  for (const char* step : {"records", "login", "delete"}) {
    std::string cursor = "0";
    do {
      absl::StatusOr<RedisReply> r = store->MigrateStep(step, cursor, chunk);
      if (!r.ok()) return r.status();
      int64_t seen = 0, fixed = 0;
      cursor = ReplyText(ReplyElement(r->get(), 0));
      if (cursor.empty() || !ReplyInt(ReplyElement(r->get(), 1), &seen) ||
          !ReplyInt(ReplyElement(r->get(), 2), &fixed)) {
        return absl::InternalError(absl::StrCat(
            store->name_, ": migrate layout: unexpected reply to ", step));
      }
      if (std::string(step) == "records") report.records += seen;
      report.fixed += fixed;
    } while (cursor != "0");
    LogInfo(store->name_, ": migrate layout: ", step, " checked (",
            report.records, " records, ", report.fixed, " fixed so far)");
  }
  absl::StatusOr<RedisReply> done = store->MigrateStep("finish", "0", chunk);
  if (!done.ok()) return done.status();
  return report;
}

}  // namespace relaysync
