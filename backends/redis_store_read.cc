// RedisStore's reads. Each is one round trip and consistent: the info
// script (which also creates the meta hash of a new or wiped namespace)
// and the reads it needs run in one MULTI/EXEC, so the version, epoch and
// data belong together without copying large replies through Lua.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/redis_store.h"

namespace relaysync {

using redis::Script;

absl::StatusOr<RedisStore::Info> RedisStore::ReadInfo(RedisConnection& conn,
                                                      const char* what) {
  absl::StatusOr<std::vector<std::string>> argv = ScriptCommand(Script::kInfo);
  if (!argv.ok()) return argv.status();
  absl::StatusOr<RedisReply> reply = RunScript(conn, Script::kInfo, &*argv);
  if (!reply.ok()) return Error(conn, what, reply.status());
  if (ReplyIsError(reply->get())) {
    return ReplyError(conn, what, ReplyText(reply->get()));
  }
  Info info;
  if (!redis::ParseInfo(reply->get(), &info)) {
    return Error(conn, what, absl::InternalError("unexpected script reply"));
  }
  NoteEpoch(info.epoch);
  return info;
}

absl::StatusOr<RedisReply> RedisStore::Transaction(
    const char* what, const std::vector<std::vector<std::string>>& reads,
    Info* info) {
  absl::StatusOr<std::vector<std::string>> info_argv =
      ScriptCommand(Script::kInfo);
  if (!info_argv.ok()) return info_argv.status();
  // EVAL, not EVALSHA: a NOSCRIPT inside EXEC would cost a second round.
  (*info_argv)[0] = "EVAL";
  (*info_argv)[1] = redis::ScriptText(Script::kInfo);
  absl::Status s = SetMaster(*conn_, &*info_argv);
  if (!s.ok()) return Error(*conn_, what, s);
  std::vector<std::vector<std::string>> commands = {{"MULTI"}, *info_argv};
  commands.insert(commands.end(), reads.begin(), reads.end());
  commands.push_back({"EXEC"});
  absl::StatusOr<std::vector<RedisReply>> replies = conn_->Pipeline(commands);
  if (!replies.ok()) return Error(*conn_, what, replies.status());
  for (const RedisReply& reply : *replies) {
    if (ReplyIsError(reply.get())) {
      return ReplyError(*conn_, what, ReplyText(reply.get()));
    }
  }
  RedisReply exec = std::move(replies->back());
  if (ReplyArraySize(exec.get()) != reads.size() + 1) {
    return Error(*conn_, what, absl::InternalError("unexpected EXEC reply"));
  }
  for (size_t i = 0; i < exec->elements; ++i) {
    if (ReplyIsError(exec->element[i])) {
      return ReplyError(*conn_, what, ReplyText(exec->element[i]));
    }
  }
  if (!redis::ParseInfo(exec->element[0], info)) {
    return Error(*conn_, what, absl::InternalError("unexpected script reply"));
  }
  NoteEpoch(info->epoch);
  return exec;
}

absl::StatusOr<Snapshot> RedisStore::ReadSnapshot() {
  const char* what = "read snapshot";
  return WithRetry([&]() -> absl::StatusOr<Snapshot> {
    Info info;
    absl::StatusOr<RedisReply> exec =
        Transaction(what, {{"HGETALL", keys_[redis::kRecKey]}}, &info);
    if (!exec.ok()) return exec.status();
    const redisReply* records = (*exec)->element[1];
    Snapshot snapshot;
    snapshot.version = info.version;
    snapshot.epoch = info.epoch;
    snapshot.entries.reserve(
        static_cast<size_t>(std::max<int64_t>(0, info.count)));
    for (size_t i = 0; i + 1 < ReplyArraySize(records); i += 2) {
      const redisReply* key = records->element[i];
      const redisReply* value = records->element[i + 1];
      int64_t login_time, delete_time;
      if (!redis::ParseRecord(absl::string_view(value->str, value->len),
                              &login_time, &delete_time)) {
        return Error(*conn_, what,
                     absl::DataLossError(absl::StrCat(
                         "record of ", ReplyText(key), ": bad value \"",
                         ReplyText(value), "\"")));
      }
      if (login_time > delete_time) {
        snapshot.entries.push_back({ReplyText(key), login_time});
      }
    }
    return snapshot;
  });
}

absl::StatusOr<std::vector<StateChange>> RedisStore::ChangesSince(
    uint64_t since, size_t limit) {
  const std::string what_text = absl::StrCat("changes since ", since);
  const char* what = what_text.c_str();
  const std::string& log = keys_[redis::kLogKey];
  std::vector<std::vector<std::string>> reads = {
      {"XRANGE", log, "-", "+", "COUNT", "1"}};
  // Versions stay far below 2^53: a larger `since` is out of range anyway.
  const bool fetch = limit > 0 && since < (uint64_t{1} << 53);
  if (fetch) {
    reads.push_back({"XRANGE", log, absl::StrCat(since + 1, "-1"), "+", "COUNT",
                     absl::StrCat(std::min<uint64_t>(limit, INT64_MAX))});
  }
  return WithRetry([&]() -> absl::StatusOr<std::vector<StateChange>> {
    Info info;
    absl::StatusOr<RedisReply> exec = Transaction(what, reads, &info);
    if (!exec.ok()) return exec.status();
    uint64_t oldest = info.version + 1;  // an empty log
    StateChange first;
    if (ReplyArraySize((*exec)->element[1]) > 0) {
      if (!redis::ParseLogEntry(ReplyElement((*exec)->element[1], 0), &first)) {
        return Error(*conn_, what,
                     absl::DataLossError("unreadable change log entry"));
      }
      oldest = first.version;
    }
    if (since > info.version || since + 1 < oldest) {
      return Error(*conn_, what,
                   absl::OutOfRangeError(absl::StrCat(
                       "not in the change log (it holds versions ", oldest,
                       " to ", info.version, "); a snapshot is needed")));
    }
    std::vector<StateChange> changes;
    const redisReply* entries = fetch ? (*exec)->element[2] : nullptr;
    changes.reserve(ReplyArraySize(entries));
    for (size_t i = 0; i < ReplyArraySize(entries); ++i) {
      StateChange change;
      if (!redis::ParseLogEntry(entries->element[i], &change) ||
          change.version != since + 1 + i) {
        return Error(*conn_, what,
                     absl::DataLossError(
                         absl::StrCat("change log entry ", i + 1, " after ",
                                      since, " is missing or unreadable")));
      }
      changes.push_back(std::move(change));
    }
    const uint64_t expected =
        fetch ? std::min<uint64_t>(limit, info.version - since) : 0;
    if (changes.size() != expected) {
      return Error(*conn_, what,
                   absl::DataLossError(absl::StrCat(
                       "change log ends at version ", since + changes.size(),
                       ", before ", info.version)));
    }
    return changes;
  });
}

absl::StatusOr<uint64_t> RedisStore::Version() {
  absl::StatusOr<Info> info =
      WithRetry([&] { return ReadInfo(*conn_, "read version"); });
  if (!info.ok()) return info.status();
  return info->version;
}

absl::StatusOr<int64_t> RedisStore::EntryCount() {
  absl::StatusOr<Info> info =
      WithRetry([&] { return ReadInfo(*conn_, "read entry count"); });
  if (!info.ok()) return info.status();
  return info->count;
}

}  // namespace relaysync
