// RedisStore's reads. Each is one round trip and consistent: the info
// script (which also creates the meta hash of a new or wiped namespace)
// and the reads it needs run in one MULTI/EXEC, so the version, epoch and
// data belong together without copying large replies through Lua.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backends/store/redis_store.h"

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

namespace {

// The present records, as ZRANGE {p}:by_login 0 -1 WITHSCORES replies:
// address, login time, ... Calls `add(address, login_time)` for each;
// DataLoss naming the address if a score is not a time.
template <typename Add>
absl::Status ForEachPresent(const redisReply* pairs, Add add) {
  for (size_t i = 0; i + 1 < ReplyArraySize(pairs); i += 2) {
    const redisReply* key = pairs->element[i];
    const redisReply* score = pairs->element[i + 1];
    int64_t login_time;
    if (!redis::ParseScore(absl::string_view(score->str, score->len),
                           &login_time)) {
      return absl::DataLossError(absl::StrCat("login time of ", ReplyText(key),
                                              ": \"", ReplyText(score), "\""));
    }
    add(absl::string_view(key->str, key->len), login_time);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Snapshot> RedisStore::ReadSnapshot() {
  const char* what = "read snapshot";
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                       mu_) -> absl::StatusOr<Snapshot> {
    Info info;
    absl::StatusOr<RedisReply> exec = Transaction(
        what, {{"ZRANGE", keys_[redis::kByLoginKey], "0", "-1", "WITHSCORES"}},
        &info);
    if (!exec.ok()) return exec.status();
    Snapshot snapshot;
    snapshot.version = info.version;
    snapshot.epoch = info.epoch;
    snapshot.entries.reserve(ReplyArraySize((*exec)->element[1]) / 2);
    absl::Status s = ForEachPresent(
        (*exec)->element[1], [&](absl::string_view address, int64_t t) {
          snapshot.entries.push_back({std::string(address), t});
        });
    if (!s.ok()) return Error(*conn_, what, s);
    return snapshot;
  });
}

absl::StatusOr<std::vector<AttributedEntry>> RedisStore::ReadAttributed() {
  const char* what = "read attributed entries";
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                       mu_) -> absl::StatusOr<std::vector<AttributedEntry>> {
    Info info;
    absl::StatusOr<RedisReply> exec = Transaction(
        what,
        {{"ZRANGE", keys_[redis::kByLoginKey], "0", "-1", "WITHSCORES"},
         {"HGETALL", keys_[redis::kWhoKey]}},
        &info);
    if (!exec.ok()) return exec.status();
    const redisReply* whos = (*exec)->element[2];
    absl::flat_hash_map<absl::string_view, absl::string_view> who_of;
    who_of.reserve(ReplyArraySize(whos) / 2);
    for (size_t i = 0; i + 1 < ReplyArraySize(whos); i += 2) {
      const redisReply* key = whos->element[i];
      const redisReply* value = whos->element[i + 1];
      who_of[absl::string_view(key->str, key->len)] =
          absl::string_view(value->str, value->len);
    }
    std::vector<AttributedEntry> entries;
    entries.reserve(ReplyArraySize((*exec)->element[1]) / 2);
    absl::Status s = ForEachPresent(
        (*exec)->element[1], [&](absl::string_view address, int64_t t) {
          AttributedEntry entry{std::string(address), t, {}};
          // Known only if it was written with this login time.
          auto it = who_of.find(address);
          int64_t who_time;
          Attribution who;
          if (it != who_of.end() &&
              redis::ParseAttribution(it->second, &who_time, &who) &&
              who_time == t) {
            entry.who = std::move(who);
          }
          entries.push_back(std::move(entry));
        });
    if (!s.ok()) return Error(*conn_, what, s);
    return entries;
  });
}

absl::StatusOr<std::vector<StateChange>> RedisStore::ChangesSince(
    uint64_t since, size_t limit) {
  const std::string what_text = absl::StrCat("changes since ", since);
  const char* what = what_text.c_str();
  const std::string& log = keys_[redis::kLogKey];
  // One entry per mutation, ID "<its last version>-1": the entries with
  // versions since+1 .. since+limit are those with IDs in that range, plus
  // the first one after it, which may start inside it.
  std::vector<std::vector<std::string>> reads = {
      {"XRANGE", log, "-", "+", "COUNT", "1"}};
  // Versions stay far below 2^53: a larger `since` is out of range anyway.
  const uint64_t kMaxVersion = uint64_t{1} << 53;
  const bool fetch = limit > 0 && since < kMaxVersion;
  const bool bounded = fetch && limit < kMaxVersion - since;
  if (fetch) {
    const std::string from = absl::StrCat(since + 1, "-1");
    if (bounded) {
      const std::string to = absl::StrCat(since + limit, "-1");
      reads.push_back({"XRANGE", log, from, to});
      reads.push_back({"XRANGE", log, "(" + to, "+", "COUNT", "1"});
    } else {
      reads.push_back({"XRANGE", log, from, "+"});
    }
  }
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                       mu_) -> absl::StatusOr<std::vector<StateChange>> {
    Info info;
    absl::StatusOr<RedisReply> exec = Transaction(what, reads, &info);
    if (!exec.ok()) return exec.status();
    uint64_t oldest = info.version + 1;  // an empty log
    if (ReplyArraySize((*exec)->element[1]) > 0) {
      std::vector<StateChange> first;
      if (!redis::ParseLogEntry(ReplyElement((*exec)->element[1], 0), &first)) {
        return Error(*conn_, what,
                     absl::DataLossError("unreadable change log entry"));
      }
      oldest = first.front().version;
    }
    if (since > info.version || since + 1 < oldest) {
      return Error(*conn_, what,
                   absl::OutOfRangeError(absl::StrCat(
                       "not in the change log (it holds versions ", oldest,
                       " to ", info.version, "); a snapshot is needed")));
    }
    std::vector<StateChange> logged;
    for (size_t r = 2; fetch && r < (*exec)->elements; ++r) {
      const redisReply* entries = (*exec)->element[r];
      for (size_t i = 0; i < ReplyArraySize(entries); ++i) {
        if (!redis::ParseLogEntry(entries->element[i], &logged)) {
          return Error(*conn_, what,
                       absl::DataLossError(absl::StrCat(
                           "unreadable change log entry after ", since)));
        }
      }
    }
    std::vector<StateChange> changes;
    const uint64_t expected =
        fetch ? std::min<uint64_t>(limit, info.version - since) : 0;
    changes.reserve(expected);
    for (StateChange& change : logged) {
      if (change.version <= since) continue;  // earlier in a straddling entry
      if (changes.size() == expected) break;
      if (change.version != since + 1 + changes.size()) break;  // a gap
      changes.push_back(std::move(change));
    }
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
      WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return ReadInfo(*conn_, "read version");
      });
  if (!info.ok()) return info.status();
  return info->version;
}

absl::StatusOr<int64_t> RedisStore::EntryCount() {
  absl::StatusOr<Info> info =
      WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return ReadInfo(*conn_, "read entry count");
      });
  if (!info.ok()) return info.status();
  return info->count;
}

absl::StatusOr<int64_t> RedisStore::CountLaterThan(int64_t ticks) {
  return WithRetry(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<int64_t> {
        const char* what = "count later entries";
        absl::StatusOr<RedisReply> reply =
            conn_->Command({"ZCOUNT", keys_[redis::kByLoginKey],
                            absl::StrCat("(", ticks), "+inf"});
        if (!reply.ok()) return Error(*conn_, what, reply.status());
        if (ReplyIsError(reply->get())) {
          return ReplyError(*conn_, what, ReplyText(reply->get()));
        }
        if ((*reply)->type != REDIS_REPLY_INTEGER) {
          return Error(*conn_, what, absl::InternalError("unexpected reply"));
        }
        return static_cast<int64_t>((*reply)->integer);
      });
}

}  // namespace relaysync
