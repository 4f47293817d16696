#include "testing/redis_server.h"

#include <hiredis/hiredis.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "testing/files.h"
#include "testing/free_port.h"
#include "testing/wait.h"

namespace relaysync::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr absl::Duration kStopTimeout = absl::Seconds(10);
constexpr int kPortAttempts = 5;

std::string Render(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return absl::StrCat("(error) ", std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return absl::StrCat(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < r->elements; ++i) {
        parts.push_back(Render(r->element[i]));
      }
      return absl::StrJoin(parts, "\n");
    }
  }
  return "(unknown reply)";
}

// Runs `argv` on a fresh connection and hands the reply to `use`; returns
// an error text (and does not call `use`) if there is no reply.
std::string WithReply(const std::string& address,
                      const std::vector<std::string>& argv,
                      const std::string& password, int db,
                      const std::function<void(const redisReply*)>& use) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return "(connect error) bad address " + address;
  }
  timeval tv = {1, 0};
  redisContext* c =
      redisConnectWithTimeout(address.substr(0, colon).c_str(), port, tv);
  if (c == nullptr) return "(connect error) out of memory";
  if (c->err != 0) {
    std::string error = absl::StrCat("(connect error) ", c->errstr);
    redisFree(c);
    return error;
  }
  redisSetTimeout(c, tv);
  std::vector<std::vector<std::string>> commands;
  if (!password.empty()) commands.push_back({"AUTH", password});
  if (db != 0) commands.push_back({"SELECT", absl::StrCat(db)});
  commands.push_back(argv);
  std::string error;
  for (size_t i = 0; i < commands.size() && error.empty(); ++i) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const std::string& a : commands[i]) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(redisCommandArgv(
        c, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()));
    if (reply == nullptr) {
      error = absl::StrCat("(connect error) ", c->errstr);
    } else if (i + 1 == commands.size()) {
      use(reply);
    } else if (reply->type == REDIS_REPLY_ERROR) {
      error = Render(reply);
    }
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(c);
  return error;
}

// Up: answers PING (NOAUTH counts) and is not loading its data.
bool Answers(const std::string& address) {
  bool up = false;
  WithReply(address, {"PING"}, "", 0, [&](const redisReply* r) {
    up = !absl::StartsWith(Render(r), "(error) LOADING");
  });
  return up;
}

// Waits until the server started as `process` answers at `address`, or
// exits, or kStartTimeout passes. The server answering must be `process`
// itself, not another test's server that took the port first.
absl::Status WaitUntilUp(Process* process, const std::string& address,
                         const std::string& password,
                         const std::string& log_path) {
  const pid_t pid = process->pid();
  bool exited = false;
  const bool up = WaitForCondition(
      [&] {
        exited = !process->Running();
        return exited || Answers(address);
      },
      kStartTimeout);
  if (up && !exited &&
      absl::StrContains(RedisCommand(address, {"INFO", "server"}, password),
                        absl::StrCat("process_id:", pid, "\r"))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("redis on ", address,
                                             " did not start (", log_path,
                                             "): ", ReadFile(log_path)));
}

std::string LoopbackAddress(int port) {
  return absl::StrCat("127.0.0.1:", port);
}

}  // namespace

std::string RedisCommand(const std::string& address,
                         const std::vector<std::string>& argv,
                         const std::string& password, int db) {
  std::string text;
  std::string error = WithReply(address, argv, password, db,
                                [&](const redisReply* r) { text = Render(r); });
  return error.empty() ? text : error;
}

absl::StatusOr<std::string> RelaysyncAclUser(const std::string& password,
                                             const std::string& prefix) {
  const std::string path =
      absl::StrCat(RELAYSYNC_SOURCE_DIR, "/deploy/redis/relaysync.acl");
  const std::string text = ReadFile(path);
  absl::string_view line = absl::StripTrailingAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&line, "user relaysync ") ||
      absl::StrContains(line, "\n") ||
      !absl::StrContains(line, " >PASSWORD ") ||
      !absl::StrContains(line, " ~{relaysync}:* ")) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     ": expected one line \"user relaysync ... >PASSWORD ... "
                     "~{relaysync}:* ...\", got: ",
                     line));
  }
  return absl::StrCat(
      "relaysync ",
      absl::StrReplaceAll(
          line, {{" >PASSWORD ", " >" + password + " "},
                 {" ~{relaysync}:* ", absl::StrCat(" ~{", prefix, "}:* ")}}));
}

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)) {
  if (options_.dir.empty()) {
    own_dir_.emplace();
    dir_ = own_dir_->path();
  } else {
    dir_ = options_.dir;
  }
}

RedisServer::~RedisServer() { Stop(SIGKILL); }

std::string RedisServer::address() const {
  return absl::StrCat(options_.bind, ":", port_);
}

std::string RedisServer::unix_socket() const { return dir_ + "/redis.sock"; }

void RedisServer::WriteConfig() const {
  // As docs/redis.md asks for relaysync (noeviction is also Redis's
  // default).
  std::string conf =
      absl::StrCat("bind ", options_.bind, "\nport ", port_, "\nunixsocket ",
                   unix_socket(), "\nunixsocketperm 700\ndir ", dir_,
                   "/data\nsave \"\"\ndaemonize no\nappendonly ",
                   options_.appendonly ? "yes" : "no", "\nappendfsync ",
                   options_.appendfsync, "\nmaxmemory-policy noeviction\n");
  if (!options_.requirepass.empty()) {
    absl::StrAppend(&conf, "requirepass ", options_.requirepass, "\n");
  }
  for (const std::string& user : options_.acl_users) {
    absl::StrAppend(&conf, "user ", user, "\n");
  }
  if (!options_.replicaof.empty()) {
    std::vector<std::string> hp = absl::StrSplit(options_.replicaof, ':');
    absl::StrAppend(&conf, "replicaof ", hp[0], " ", hp.size() > 1 ? hp[1] : "",
                    "\n");
  }
  WriteFile(dir_ + "/redis.conf", conf);
}

absl::Status RedisServer::StartOnce() {
  const std::string data = dir_ + "/data";
  for (const std::string& d : {dir_, data}) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::UnavailableError(
          absl::StrCat("mkdir ", d, ": ", std::strerror(errno)));
    }
  }
  WriteConfig();
  std::vector<std::string> argv = {options_.server_bin, dir_ + "/redis.conf"};
  if (!options_.netns.empty()) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", options_.netns});
  }
  absl::Status s = process_.Start(argv, log_path());
  if (s.ok()) {
    s = WaitUntilUp(&process_, address(), options_.requirepass, log_path());
  }
  if (!s.ok()) process_.Stop(SIGKILL);
  return s;
}

absl::Status RedisServer::Start() {
  if (running()) return absl::OkStatus();
  const bool pick_port = port_ == 0;
  absl::Status s;
  for (int attempt = 0; attempt < (pick_port ? kPortAttempts : 1); ++attempt) {
    if (pick_port) port_ = FreeLoopbackPort();
    s = StartOnce();
    if (s.ok()) break;
  }
  return s;
}

void RedisServer::Stop(int sig) { process_.Stop(sig, kStopTimeout); }

absl::Status RedisServer::Restart() {
  Stop(SIGTERM);
  return Start();
}

absl::Status RedisServer::WipeAndRestart() {
  Stop(SIGKILL);
  RemoveTree(dir_ + "/data");
  return Start();
}

std::string RedisServer::Command(const std::vector<std::string>& argv,
                                 int db) const {
  return RedisCommand(address(), argv, options_.requirepass, db);
}

RedisSentinel::RedisSentinel(std::string master_name,
                             std::string master_address)
    : master_name_(std::move(master_name)),
      master_address_(std::move(master_address)) {}

RedisSentinel::~RedisSentinel() { Stop(SIGKILL); }

std::string RedisSentinel::address() const { return LoopbackAddress(port_); }

absl::Status RedisSentinel::Start() {
  if (process_.pid() > 0) return absl::OkStatus();
  std::vector<std::string> master = absl::StrSplit(master_address_, ':');
  if (master.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad master address ", master_address_));
  }
  const std::string log = dir_.File("sentinel.log");
  absl::Status s;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = FreeLoopbackPort();
    // Sentinel rewrites its config file, so each start writes a new one.
    WriteFile(dir_.File("sentinel.conf"),
              absl::StrCat("bind 127.0.0.1\nport ", port_, "\ndir ",
                           dir_.path(), "\ndaemonize no\n", "sentinel monitor ",
                           master_name_, " ", master[0], " ", master[1], " 1\n",
                           "sentinel down-after-milliseconds ", master_name_,
                           " 1000\n", "sentinel failover-timeout ",
                           master_name_, " 5000\n"));
    s = process_.Start(
        {"redis-server", dir_.File("sentinel.conf"), "--sentinel"}, log);
    if (s.ok()) s = WaitUntilUp(&process_, address(), "", log);
    if (s.ok()) return s;
    process_.Stop(SIGKILL);
  }
  return s;
}

void RedisSentinel::Stop(int sig) { process_.Stop(sig, kStopTimeout); }

std::string RedisSentinel::MasterAddress() const {
  std::string text = RedisCommand(
      address(), {"SENTINEL", "get-master-addr-by-name", master_name_});
  std::vector<std::string> parts = absl::StrSplit(text, '\n');
  return parts.size() == 2 ? absl::StrCat(parts[0], ":", parts[1]) : "";
}

int RedisSentinel::ReplicaCount() const {
  int count = -1;
  WithReply(address(), {"SENTINEL", "replicas", master_name_}, "", 0,
            [&](const redisReply* r) {
              if (r->type == REDIS_REPLY_ARRAY) {
                count = static_cast<int>(r->elements);
              }
            });
  return count;
}

}  // namespace relaysync::testing
