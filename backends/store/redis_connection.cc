#include "backends/store/redis_connection.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

timeval RedisTimeval(absl::Duration d) {
  timeval tv = absl::ToTimeval(d);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;  // 0 = forever
  return tv;
}

// Replies meaning "this server cannot take our commands right now": a
// replica (after a failover), a replica cut off from its master, a server
// still loading its data or busy in someone's long script. Reconnecting
// (and asking Sentinel again) is the remedy: they count as Unavailable.
bool IsTransientError(absl::string_view message) {
  return absl::StartsWith(message, "READONLY") ||
         absl::StartsWith(message, "MASTERDOWN") ||
         absl::StartsWith(message, "LOADING") ||
         absl::StartsWith(message, "BUSY ") ||
         absl::StrContains(message, "-READONLY") ||
         absl::StrContains(message, "You can't write against a read only");
}

// hiredis wants C arrays.
struct Argv {
  explicit Argv(const std::vector<std::string>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

}  // namespace

void RedisReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

absl::Status ParseRedisAddress(absl::string_view text, std::string* host,
                               int* port) {
  if (absl::StartsWith(text, "/")) {
    *host = std::string(text);
    *port = 0;
    return absl::OkStatus();
  }
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), port) || *port <= 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis address \"", text, "\": want HOST:PORT or a /socket/path"));
  }
  absl::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  return absl::OkStatus();
}

RedisConnection::RedisConnection(RedisConnectionOptions options)
    : options_(std::move(options)), address_(ConfiguredAddress()) {}

std::string RedisConnection::ConfiguredAddress() const {
  return options_.sentinels.empty()
             ? options_.address
             : absl::StrCat("sentinel master ", options_.master_name, " (",
                            absl::StrJoin(options_.sentinels, ","), ")");
}

RedisConnection::~RedisConnection() { Disconnect(); }

void RedisConnection::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

redisContext* RedisConnection::Open(const Endpoint& endpoint,
                                    std::string* error) const {
  const timeval tv = RedisTimeval(options_.timeout);
  redisContext* c =
      endpoint.port == 0
          ? redisConnectUnixWithTimeout(endpoint.host.c_str(), tv)
          : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (c == nullptr) {
    *error = "connect: out of memory";
    return nullptr;
  }
  if (c->err != 0) {
    *error = absl::StrCat("connect: ", c->errstr);
    redisFree(c);
    return nullptr;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    *error = absl::StrCat("set timeout: ", c->errstr);
    redisFree(c);
    return nullptr;
  }
  return c;
}

absl::StatusOr<RedisConnection::Endpoint> RedisConnection::DiscoverMaster() {
  std::vector<std::string> errors;
  for (const std::string& sentinel : options_.sentinels) {
    Endpoint ep;
    ep.text = sentinel;
    absl::Status s = ParseRedisAddress(sentinel, &ep.host, &ep.port);
    if (!s.ok()) return s;
    std::string error;
    redisContext* c = Open(ep, &error);
    if (c == nullptr) {
      errors.push_back(absl::StrCat(sentinel, ": ", error));
      continue;
    }
    const std::vector<std::string> argv = {
        "SENTINEL", "get-master-addr-by-name", options_.master_name};
    Argv a(argv);
    RedisReply reply(static_cast<redisReply*>(redisCommandArgv(
        c, static_cast<int>(a.ptrs.size()), a.ptrs.data(), a.lens.data())));
    if (reply == nullptr) {
      errors.push_back(absl::StrCat(sentinel, ": ", c->errstr));
    } else if (ReplyArraySize(reply.get()) == 2) {
      Endpoint master;
      master.host = ReplyText(ReplyElement(reply.get(), 0));
      const std::string port = ReplyText(ReplyElement(reply.get(), 1));
      if (absl::SimpleAtoi(port, &master.port) && master.port > 0) {
        master.text = absl::StrCat(
            absl::StrContains(master.host, ':') ? "[" : "", master.host,
            absl::StrContains(master.host, ':') ? "]:" : ":", port);
        redisFree(c);
        return master;
      }
      errors.push_back(absl::StrCat(sentinel, ": bad reply"));
    } else if (ReplyIsError(reply.get())) {
      errors.push_back(absl::StrCat(sentinel, ": ", ReplyText(reply.get())));
    } else {
      errors.push_back(absl::StrCat(sentinel, ": unknown master"));
    }
    redisFree(c);
  }
  return absl::UnavailableError(
      absl::StrCat("no sentinel names a master for \"", options_.master_name,
                   "\" (", absl::StrJoin(errors, "; "), ")"));
}

absl::Status RedisConnection::Connect() {
  Endpoint ep;
  address_ = ConfiguredAddress();
  if (options_.sentinels.empty()) {
    ep.text = options_.address;
    absl::Status s = ParseRedisAddress(options_.address, &ep.host, &ep.port);
    if (!s.ok()) return s;
  } else {
    absl::StatusOr<Endpoint> master = DiscoverMaster();
    if (!master.ok()) return master.status();
    ep = std::move(*master);
  }
  address_ = ep.text;
  std::string error;
  ctx_ = Open(ep, &error);
  if (ctx_ == nullptr) return absl::UnavailableError(error);
  absl::Status s = Handshake();
  if (!s.ok()) Disconnect();
  return s;
}

absl::Status RedisConnection::EnsureConnected() {
  if (ctx_ != nullptr) return absl::OkStatus();
  absl::Status s = Connect();
  if (absl::IsUnavailable(s)) {
    connect_failure_ = s;
    connect_failed_at_ = absl::Now();
  }
  return s;
}

absl::Status RedisConnection::ConnectFailedSince(absl::Time since) const {
  if (ctx_ != nullptr || connect_failed_at_ < since) return absl::OkStatus();
  return connect_failure_;
}

absl::Status RedisConnection::Handshake() {
  std::vector<std::vector<std::string>> setup;
  if (!options_.password.empty()) {
    setup.push_back(options_.user.empty()
                        ? std::vector<std::string>{"AUTH", options_.password}
                        : std::vector<std::string>{"AUTH", options_.user,
                                                   options_.password});
  }
  if (options_.db != 0) setup.push_back({"SELECT", absl::StrCat(options_.db)});
  // Sentinel may name a master that has just been demoted: check its role
  // (skipped if an ACL forbids ROLE; writes would then fail as READONLY).
  if (!options_.sentinels.empty()) setup.push_back({"ROLE"});
  // Who we talk to, for lost-write detection (see server_identity()).
  setup.push_back({"INFO", "server"});
  setup.push_back({"CONFIG", "GET", "appendonly"});
  setup.push_back({"CONFIG", "GET", "appendfsync"});
  std::string run_id, appendonly, appendfsync;
  for (const std::vector<std::string>& argv : setup) {
    Argv a(argv);
    if (redisAppendCommandArgv(ctx_, static_cast<int>(a.ptrs.size()),
                               a.ptrs.data(), a.lens.data()) != REDIS_OK) {
      return IoError();
    }
  }
  for (const std::vector<std::string>& argv : setup) {
    absl::StatusOr<RedisReply> reply = Read();
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    const std::string text = ReplyText(r);
    if (argv[0] == "AUTH" && ReplyIsError(r)) {
      return absl::PermissionDeniedError(
          absl::StrCat("AUTH",
                       options_.user.empty()
                           ? ""
                           : absl::StrCat(" as user \"", options_.user, "\""),
                       ": ", text));
    }
    if (argv[0] == "SELECT" && ReplyIsError(r)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SELECT ", options_.db, ": ", text));
    }
    if (argv[0] == "ROLE" && !ReplyIsError(r)) {
      const std::string role = ReplyText(ReplyElement(r, 0));
      if (role != "master") {
        return absl::UnavailableError(
            absl::StrCat("Sentinel names it master of \"", options_.master_name,
                         "\" but its role is ", role));
      }
    }
    // CONFIG may be denied by an ACL: then the server counts as not
    // durable, which only costs a resynchronization after its restarts.
    if (argv[0] == "INFO" && !ReplyIsError(r)) {
      for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
        if (absl::ConsumePrefix(&line, "run_id:")) run_id = std::string(line);
      }
    }
    if (argv[0] == "CONFIG" && !ReplyIsError(r)) {
      (argv[2] == "appendonly" ? appendonly : appendfsync) =
          ReplyText(ReplyElement(r, 1));
    }
  }
  const bool durable = appendonly == "yes" && appendfsync == "always";
  identity_ = durable ? "" : run_id;
  return absl::OkStatus();
}

absl::Status RedisConnection::IoError() {
  const int err = ctx_->err;
  const int saved_errno = errno;
  std::string message = ctx_->errstr;
  if (err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    message = absl::StrCat("timed out after ",
                           absl::FormatDuration(options_.timeout));
  }
  Disconnect();
  if (err == REDIS_ERR_PROTOCOL || err == REDIS_ERR_OOM) {
    return absl::InternalError(message);
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<RedisReply> RedisConnection::Read() {
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
    if (raw != nullptr) freeReplyObject(raw);
    return IoError();
  }
  RedisReply reply(static_cast<redisReply*>(raw));
  if (ReplyIsError(reply.get()) && IsTransientError(ReplyText(reply.get()))) {
    Disconnect();
    return absl::UnavailableError(ReplyText(reply.get()));
  }
  return reply;
}

absl::Status RedisConnection::SetReadTimeout(absl::Duration timeout) {
  if (redisSetTimeout(ctx_, RedisTimeval(timeout)) != REDIS_OK)
    return IoError();
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisConnection::Command(
    const std::vector<std::string>& argv) {
  absl::StatusOr<std::vector<RedisReply>> replies = Pipeline({argv});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<RedisReply> RedisConnection::Command(
    const std::vector<std::string>& argv, absl::Duration timeout) {
  absl::Status s = EnsureConnected();
  if (s.ok()) s = SetReadTimeout(timeout);
  if (!s.ok()) return s;
  absl::StatusOr<RedisReply> reply = Command(argv);
  if (ctx_ != nullptr) {
    s = SetReadTimeout(options_.timeout);
    if (!s.ok()) return s;
  }
  return reply;
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  absl::Status s = EnsureConnected();
  if (!s.ok()) return s;
  for (const std::vector<std::string>& argv : commands) {
    Argv a(argv);
    if (redisAppendCommandArgv(ctx_, static_cast<int>(a.ptrs.size()),
                               a.ptrs.data(), a.lens.data()) != REDIS_OK) {
      return IoError();
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    absl::StatusOr<RedisReply> reply = Read();
    if (!reply.ok()) return reply.status();
    replies.push_back(std::move(*reply));
  }
  return replies;
}

bool ReplyIsError(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

std::string ReplyText(const redisReply* reply) {
  if (reply == nullptr) return "";
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
      return absl::StrCat(reply->integer);
    default:
      return "";
  }
}

bool ReplyInt(const redisReply* reply, int64_t* value) {
  if (reply == nullptr) return false;
  if (reply->type == REDIS_REPLY_INTEGER) {
    *value = reply->integer;
    return true;
  }
  return reply->type == REDIS_REPLY_STRING &&
         absl::SimpleAtoi(absl::string_view(reply->str, reply->len), value);
}

const redisReply* ReplyElement(const redisReply* reply, size_t i) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY ||
      i >= reply->elements) {
    return nullptr;
  }
  return reply->element[i];
}

size_t ReplyArraySize(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY ? reply->elements
                                                              : 0;
}

}  // namespace relaysync
