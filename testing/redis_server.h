// Real redis-server and Redis Sentinel processes for tests and benchmarks:
// on a free port, each in its own directory, started and stopped with
// bounded waits, and SIGKILLed by their destructors (or if the thread that
// started them dies). Also one-off commands to any Redis.
#ifndef RELAYSYNC_TESTING_REDIS_SERVER_H_
#define RELAYSYNC_TESTING_REDIS_SERVER_H_

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace relaysync::testing {

struct RedisServerOptions {
  bool appendonly = false;
  std::string appendfsync = "always";  // with appendonly
  std::string replicaof;               // "HOST:PORT" of a master to replicate
  std::string requirepass;             // the default user's password
  // ACL users, each the text after "user " in redis.conf, e.g.
  // "alice on >secret ~* &* +@all".
  std::vector<std::string> acl_users;
  // Run inside this network namespace (`ip netns exec`), listening on
  // `bind` there, for partition tests; empty: here, on 127.0.0.1.
  std::string netns;
  std::string bind = "127.0.0.1";
  std::string server_bin = "redis-server";
  // Where its files go (redis.conf, redis.log, data/, the unix socket),
  // created if missing and not removed; empty: a ScratchDir of its own.
  std::string dir;
};

// A redis-server child. Not thread-safe; start it from a thread that
// outlives it (the child gets SIGKILL when the thread that forked it ends,
// so that a crashed test leaves no server behind).
class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();  // Stop(SIGKILL)
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts it and waits (up to 10 s) until it answers PING with its data
  // loaded. The first start picks a free port, retrying on a conflict;
  // later starts reuse it. Unavailable, with its log, if it never answers.
  absl::Status Start();
  // Sends `sig` and reaps the process (SIGKILL after 10 s).
  void Stop(int sig = SIGTERM);
  // Stop(SIGTERM) if running, then Start on the same port and directory:
  // the AOF (if any) is replayed.
  absl::Status Restart();
  // Stop(SIGKILL), delete the data files, Start on the same port: a Redis
  // that restarted empty.
  absl::Status WipeAndRestart();

  bool running() const { return process_.pid() > 0; }
  pid_t pid() const { return process_.pid(); }
  int port() const { return port_; }
  std::string address() const;      // "BIND:PORT", 127.0.0.1 by default
  std::string unix_socket() const;  // its unix socket path
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/redis.log"; }

  // Runs one command as the default user (with requirepass), in `db`, on a
  // fresh connection. The reply as text: strings, statuses and integers
  // as is, nil as "(nil)", errors as "(error) MESSAGE", arrays as their
  // elements joined by '\n'; "(connect error) ..." if it cannot connect.
  std::string Command(const std::vector<std::string>& argv, int db = 0) const;

 private:
  absl::Status StartOnce();
  void WriteConfig() const;

  const RedisServerOptions options_;
  std::optional<ScratchDir> own_dir_;  // without options_.dir
  std::string dir_;
  Process process_;
  int port_ = 0;
};

// A Redis Sentinel (redis-server --sentinel) watching one master, with
// down-after-milliseconds 1000 and a short failover timeout, so that a
// failover happens within a few seconds of the master dying.
class RedisSentinel {
 public:
  RedisSentinel(std::string master_name, std::string master_address);
  ~RedisSentinel();
  RedisSentinel(const RedisSentinel&) = delete;
  RedisSentinel& operator=(const RedisSentinel&) = delete;

  // Starts it and waits (up to 10 s) until it answers PING.
  absl::Status Start();
  void Stop(int sig = SIGTERM);

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  // What it says the master is ("HOST:PORT"), or "" if unknown.
  std::string MasterAddress() const;
  // How many replicas of the master it knows.
  int ReplicaCount() const;

 private:
  const std::string master_name_;
  const std::string master_address_;
  ScratchDir dir_;
  Process process_;
  int port_ = 0;
};

// The least-privilege ACL user docs/redis.md recommends, read from
// deploy/redis/relaysync.acl: the text after "user ", ready for
// RedisServerOptions::acl_users, with PASSWORD replaced by `password` and
// the key pattern ~{relaysync}:* by ~{`prefix`}:* (a glob is fine).
// FailedPrecondition if the file does not hold exactly that form.
absl::StatusOr<std::string> RelaysyncAclUser(
    const std::string& password, const std::string& prefix = "relaysync");

// Sends `argv` to HOST:PORT (AUTH `password` first if non-empty); the reply
// as RedisServer::Command renders it.
std::string RedisCommand(const std::string& address,
                         const std::vector<std::string>& argv,
                         const std::string& password = "", int db = 0);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_REDIS_SERVER_H_
