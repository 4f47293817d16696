// RedisStore: argument checks, script calls, retries and the epoch. Reads
// and reply parsing are in redis_store_read.cc, connections in
// redis_connection.cc, the Lua in redis_scripts.cc.
#include "backends/store/redis_store.h"

#include <errno.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/random_id.h"

namespace relaysync {

using redis::Script;

namespace {

// WaitForChange re-reads the epoch at least this often while blocked, and
// pauses this long between reconnection attempts while Redis is down.
constexpr absl::Duration kWaitSlice = absl::Seconds(1);
constexpr absl::Duration kReconnectPause = absl::Milliseconds(200);

// Where ARGV[3] (the master) sits in a script command: after EVALSHA, the
// SHA, the key count, the keys, the epoch candidate and the limit.
constexpr size_t kMasterArg = 3 + redis::kKeys + 2;

// Addresses are canonicalized by the coordinator; only "" is refused.
absl::Status CheckAddress(const std::string& address) {
  if (address.empty()) {
    return absl::InvalidArgumentError("redis store: empty address");
  }
  return absl::OkStatus();
}

// As the embedded store, so that both keep the same attributions.
absl::Status CheckAttribution(const std::string& address,
                              const Attribution& who) {
  if (who.fits()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("redis store: ", address, ": attribution over ",
                   kMaxAttributionField, " bytes"));
}

// `what` names the operation (and address) in the error.
absl::Status CheckTime(absl::string_view what, int64_t t) {
  if (t >= -redis::kMaxTime && t <= redis::kMaxTime) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "redis store: ", what, ": time ", t, " out of range (|t| < 2^53)"));
}

// A cut-off as the scripts compare it. Stored times lie in [-2^53,
// 2^53 - 1] (a delete time can be one below the lowest login time), so a
// cut-off beyond them becomes a double just outside, exactly.
std::string Threshold(int64_t t) {
  if (t < -redis::kMaxTime - 1) return "-9007199254740994";  // -(2^53 + 2)
  if (t > redis::kMaxTime) return "9007199254740992";        // 2^53
  return absl::StrCat(t);
}

std::string MakeName(const RedisStoreOptions& o) {
  std::string name = o.sentinels.empty()
                         ? absl::StrCat("redis:", o.address)
                         : absl::StrCat("redis:sentinel/", o.master_name);
  if (o.db != 0) absl::StrAppend(&name, "/", o.db);
  if (o.prefix != "relaysync") absl::StrAppend(&name, " {", o.prefix, "}");
  return name;
}

}  // namespace

RedisStore::RedisStore(const RedisStoreOptions& options)
    : options_(options), name_(MakeName(options)) {
  const std::string p = absl::StrCat("{", options.prefix, "}:");
  keys_ = {p + "rec",  p + "by_login", p + "by_delete", p + "log",
           p + "meta", p + "who",      p + "rec_v1"};
  RedisConnectionOptions c;
  c.address = options.address;
  c.sentinels = options.sentinels;
  c.master_name = options.master_name;
  c.user = options.user;
  c.password = options.password;
  c.db = options.db;
  c.timeout = options.timeout;
  conn_ = std::make_unique<RedisConnection>(c);
  wait_conn_ = std::make_unique<RedisConnection>(c);
  for (int i = 0; i < std::max(1, options.merge_connections); ++i) {
    merge_conns_.push_back(std::make_unique<MergeConnection>());
    merge_conns_.back()->conn = std::make_unique<RedisConnection>(c);
  }
}

RedisStore::~RedisStore() = default;

absl::Status RedisStore::CheckOptions(const RedisStoreOptions& o) {
  if (o.sentinels.empty() && o.address.empty()) {
    return absl::InvalidArgumentError("redis store: no address or sentinels");
  }
  if (!o.sentinels.empty() && o.master_name.empty()) {
    return absl::InvalidArgumentError(
        "redis store: sentinels need a master name");
  }
  if (o.prefix.empty() || absl::StrContains(o.prefix, '{') ||
      absl::StrContains(o.prefix, '}')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis store: prefix \"", o.prefix, "\": empty or has '{' or '}'"));
  }
  if (o.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis store: timeout must be > 0");
  }
  std::string host;
  int port;
  for (const std::string& a : o.sentinels) {
    absl::Status s = ParseRedisAddress(a, &host, &port);
    if (!s.ok()) return s;
  }
  return o.sentinels.empty() ? ParseRedisAddress(o.address, &host, &port)
                             : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisStore>> RedisStore::Open(
    const RedisStoreOptions& options) {
  absl::Status s = CheckOptions(options);
  if (!s.ok()) return s;
  std::unique_ptr<RedisStore> store(new RedisStore(options));
  s = store->LoadScripts();
  if (!s.ok()) return s;
  absl::StatusOr<Info> info =
      store->WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->mu_) {
        return store->ReadInfo(*store->conn_, "open");
      });
  if (!info.ok()) return info.status();
  store->WarnIfNotDurable();
  return store;
}

std::string RedisStore::Name() const { return name_; }

std::string RedisStore::Epoch() const {
  absl::MutexLock lock(&epoch_mu_);
  return epoch_;
}

void RedisStore::NoteEpoch(const std::string& epoch) {
  absl::MutexLock lock(&epoch_mu_);
  if (epoch == epoch_) return;
  if (!epoch_.empty()) {
    LogWarning(name_, ": epoch changed from ", epoch_, " to ", epoch,
               ": Redis lost the state (restarted empty, flushed) or "
               "Sentinel named a new master; agents will resynchronize");
  }
  epoch_ = epoch;
}

absl::Status RedisStore::Error(const RedisConnection& conn, const char* what,
                               const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("redis ", conn.address(), ": ", what, ": ",
                                   status.message()));
}

absl::Status RedisStore::ReplyError(const RedisConnection& conn,
                                    const char* what,
                                    const std::string& message) {
  const bool denied = absl::StartsWith(message, "NOAUTH") ||
                      absl::StartsWith(message, "WRONGPASS") ||
                      absl::StartsWith(message, "NOPERM");
  if (denied) return Error(conn, what, absl::PermissionDeniedError(message));
  absl::string_view layout = message;
  if (absl::ConsumePrefix(&layout, redis::kLayoutError)) {
    return Error(conn, what,
                 absl::FailedPreconditionError(
                     absl::StripLeadingAsciiWhitespace(layout)));
  }
  return Error(conn, what, absl::InternalError(message));
}

absl::Status RedisStore::LoadScripts() {
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::vector<std::vector<std::string>> commands;
    for (int i = 0; i < redis::kScriptCount; ++i) {
      commands.push_back(
          {"SCRIPT", "LOAD", redis::ScriptText(static_cast<Script>(i))});
    }
    absl::StatusOr<std::vector<RedisReply>> replies = conn_->Pipeline(commands);
    if (!replies.ok()) return Error(*conn_, "open", replies.status());
    for (int i = 0; i < redis::kScriptCount; ++i) {
      const redisReply* r = (*replies)[i].get();
      if (ReplyIsError(r)) {
        return ReplyError(*conn_, "open: SCRIPT LOAD", ReplyText(r));
      }
      shas_[i] = ReplyText(r);
    }
    return absl::OkStatus();
  });
}

void RedisStore::WarnIfNotDurable() {
  std::string appendonly, appendfsync;
  bool no_run_id = false;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::vector<RedisReply>> replies = conn_->Pipeline(
        {{"CONFIG", "GET", "appendonly"}, {"CONFIG", "GET", "appendfsync"}});
    // CONFIG may be renamed or denied by an ACL: then say nothing.
    if (!replies.ok()) return;
    appendonly = ReplyText(ReplyElement((*replies)[0].get(), 1));
    appendfsync = ReplyText(ReplyElement((*replies)[1].get(), 1));
    no_run_id = conn_->server_identity().empty();
  }
  if (appendonly.empty() || appendfsync.empty()) {
    // Durability unknown and no run_id either: nothing tells a restart.
    if (no_run_id) {
      LogWarning(name_,
                 ": neither CONFIG GET nor INFO is allowed (an ACL?): a "
                 "Redis restart that loses writes would go unnoticed; "
                 "allow +info (docs/redis.md)");
    }
    return;
  }
  if (appendonly != "yes" || appendfsync != "always") {
    LogWarning(name_, ": appendonly ", appendonly, ", appendfsync ",
               appendfsync,
               ": a change Redis acknowledged can be lost "
               "if it crashes (docs/redis.md)");
  }
}

absl::StatusOr<std::vector<std::string>> RedisStore::ScriptCommand(
    Script script) const {
  absl::StatusOr<std::string> epoch = RandomHexId();
  if (!epoch.ok()) return epoch.status();
  std::vector<std::string> argv = {
      "EVALSHA", shas_[static_cast<int>(script)],
      absl::StrCat(static_cast<int>(keys_.size()))};
  argv.insert(argv.end(), keys_.begin(), keys_.end());
  argv.push_back(std::move(*epoch));
  argv.push_back(absl::StrCat(options_.change_log_limit));
  argv.push_back("");  // the master, filled in by SetMaster
  return argv;
}

absl::Status RedisStore::SetMaster(RedisConnection& conn,
                                   std::vector<std::string>* argv) const {
  absl::Status s = conn.EnsureConnected();
  if (!s.ok()) return s;
  // The server's identity as the scripts see it: a different one than
  // the namespace recorded means writes may have been lost (a failover, or
  // a restart of a Redis that does not fsync every write), so a new epoch
  // starts and agents resynchronize.
  std::string identity = options_.sentinels.empty() ? "" : conn.address();
  if (!conn.server_identity().empty()) {
    absl::StrAppend(&identity, identity.empty() ? "" : "/",
                    conn.server_identity());
  }
  (*argv)[kMasterArg] = identity;
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisStore::RunScript(
    RedisConnection& conn, Script script, std::vector<std::string>* argv) {
  absl::Status s = SetMaster(conn, argv);
  if (!s.ok()) return s;
  absl::StatusOr<RedisReply> reply = conn.Command(*argv);
  if (!reply.ok() || !ReplyIsError(reply->get()) ||
      !absl::StartsWith(ReplyText(reply->get()), "NOSCRIPT")) {
    return reply;
  }
  // A restarted or failed-over Redis has an empty script cache; EVAL
  // caches the script again.
  std::string sha = std::move((*argv)[1]);
  (*argv)[0] = "EVAL";
  (*argv)[1] = redis::ScriptText(script);
  reply = conn.Command(*argv);
  (*argv)[0] = "EVALSHA";
  (*argv)[1] = std::move(sha);
  return reply;
}

absl::StatusOr<MutationResult> RedisStore::Mutate(
    RedisConnection& conn, const char* what, Script script,
    std::vector<std::string>* argv) {
  absl::StatusOr<RedisReply> reply = RunScript(conn, script, argv);
  if (!reply.ok()) return Error(conn, what, reply.status());
  if (ReplyIsError(reply->get())) {
    return ReplyError(conn, what, ReplyText(reply->get()));
  }
  std::string epoch;
  absl::StatusOr<MutationResult> result =
      redis::ParseMutation(reply->get(), &epoch);
  if (!result.ok()) return Error(conn, what, result.status());
  NoteEpoch(epoch);
  return result;
}

absl::StatusOr<MutationResult> RedisStore::MergeLogins(
    const std::vector<Login>& logins, int64_t not_after) {
  for (const Login& login : logins) {
    absl::Status s = CheckAddress(login.address);
    if (s.ok()) s = CheckAttribution(login.address, login.who);
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::vector<std::string>> argv = ScriptCommand(Script::kMerge);
  if (!argv.ok()) return argv.status();
  // The distinct addresses first, then each login naming its address's
  // slot: the script reads them all with one ZMSCORE and builds no table
  // of its own for them (Redis's one thread is what limits ingest).
  const size_t fixed = argv->size();
  argv->push_back("");  // n, below
  absl::flat_hash_map<absl::string_view, size_t> slot_of;
  std::vector<std::string> tail;
  tail.reserve(3 * logins.size());
  for (const Login& login : logins) {
    // Dropped here rather than in Lua: they would be expired at once.
    if (login.login_time <= not_after) continue;
    absl::Status s =
        CheckTime(absl::StrCat("login of ", login.address), login.login_time);
    if (!s.ok()) return s;
    auto [it, added] = slot_of.try_emplace(login.address, slot_of.size() + 1);
    if (added) argv->push_back(login.address);
    tail.push_back(absl::StrCat(it->second));
    tail.push_back(absl::StrCat(login.login_time));
    tail.push_back(redis::WhoValue(login.login_time, login.who));
  }
  if (tail.empty()) return MutationResult{};
  (*argv)[fixed] = absl::StrCat(slot_of.size());
  argv->insert(argv->end(), std::make_move_iterator(tail.begin()),
               std::make_move_iterator(tail.end()));
  // A free connection if there is one, else the next in turn.
  const size_t n = merge_conns_.size();
  size_t pick = next_merge_.fetch_add(1) % n;
  for (size_t i = 0; i < n; ++i) {
    MergeConnection& candidate = *merge_conns_[(pick + i) % n];
    if (candidate.mu.TryLock()) {
      candidate.mu.Unlock();
      pick = (pick + i) % n;
      break;
    }
  }
  MergeConnection& m = *merge_conns_[pick];
  return WithRetry(
      m.mu, m.conn.get(), [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(m.mu) {
        return Mutate(*m.conn, "merge logins", Script::kMerge, &*argv);
      });
}

absl::StatusOr<MutationResult> RedisStore::Put(const std::string& address,
                                               int64_t ticks,
                                               const Attribution& who) {
  absl::Status s = CheckAddress(address);
  if (s.ok()) s = CheckAttribution(address, who);
  if (s.ok()) s = CheckTime(absl::StrCat("put ", address), ticks);
  if (!s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> argv = ScriptCommand(Script::kPut);
  if (!argv.ok()) return argv.status();
  argv->push_back(address);
  argv->push_back(absl::StrCat(ticks));
  argv->push_back(redis::WhoValue(ticks, who));
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Mutate(*conn_, "put", Script::kPut, &*argv);
  });
}

absl::StatusOr<MutationResult> RedisStore::Delete(
    const std::vector<std::string>& addresses, int64_t now) {
  for (const std::string& address : addresses) {
    absl::Status s = CheckAddress(address);
    if (!s.ok()) return s;
  }
  if (addresses.empty()) return MutationResult{};
  absl::Status s = CheckTime("delete", now);
  if (!s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> argv =
      ScriptCommand(Script::kDelete);
  if (!argv.ok()) return argv.status();
  argv->push_back(absl::StrCat(now));
  argv->insert(argv->end(), addresses.begin(), addresses.end());
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Mutate(*conn_, "delete", Script::kDelete, &*argv);
  });
}

absl::StatusOr<MutationResult> RedisStore::Expire(int64_t cutoff,
                                                  int64_t forget_before) {
  absl::StatusOr<std::vector<std::string>> argv =
      ScriptCommand(Script::kExpire);
  if (!argv.ok()) return argv.status();
  argv->push_back(Threshold(cutoff));
  argv->push_back(Threshold(forget_before));
  return WithRetry([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Mutate(*conn_, "expire", Script::kExpire, &*argv);
  });
}

absl::StatusOr<uint64_t> RedisStore::WaitForChange(uint64_t since,
                                                   absl::Duration timeout) {
  const std::string epoch = Epoch();
  const absl::Time deadline = absl::Now() + timeout;
  const char* what = "wait for change";
  absl::MutexLock lock(&wait_mu_);
  for (;;) {
    absl::Status failure;
    absl::StatusOr<Info> info = ReadInfo(*wait_conn_, what);
    if (info.ok()) {
      absl::Duration left = deadline - absl::Now();
      if (info->epoch != epoch || info->version > since ||
          left <= absl::ZeroDuration()) {
        return info->version;
      }
      const absl::Duration block = std::min(left, kWaitSlice);
      // Blocks until an entry after `since` ("<since>-1") is appended.
      absl::StatusOr<RedisReply> reply = wait_conn_->Command(
          {"XREAD", "COUNT", "1", "BLOCK",
           absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(block))),
           "STREAMS", keys_[redis::kLogKey], absl::StrCat(since, "-1")},
          block + options_.timeout);
      if (reply.ok() && !ReplyIsError(reply->get())) continue;
      failure = reply.ok()
                    ? ReplyError(*wait_conn_, what, ReplyText(reply->get()))
                    : Error(*wait_conn_, what, reply.status());
    } else {
      failure = info.status();
    }
    // Redis down or failing over: keep trying until the deadline.
    const absl::Duration left = deadline - absl::Now();
    if (!absl::IsUnavailable(failure) || left <= absl::ZeroDuration()) {
      return failure;
    }
    absl::SleepFor(std::min(left, kReconnectPause));
  }
}

}  // namespace relaysync
