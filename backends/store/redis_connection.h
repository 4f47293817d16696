// One blocking hiredis connection to the Redis master a RedisStore uses:
// connects (TCP, unix socket, or the master a Sentinel names), AUTHs,
// SELECTs, runs commands with a timeout, and after any failure drops the
// connection so that the next command reconnects (and re-asks Sentinel).
#ifndef RELAYSYNC_BACKENDS_STORE_REDIS_CONNECTION_H_
#define RELAYSYNC_BACKENDS_STORE_REDIS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// hiredis types, kept out of this header.
struct redisContext;
struct redisReply;

namespace relaysync {

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisConnectionOptions {
  std::string address;                 // "HOST:PORT" or "/unix/socket"
  std::vector<std::string> sentinels;  // "HOST:PORT"; used when non-empty
  std::string master_name;             // for Sentinel
  std::string user;                    // AUTH user password, if set
  std::string password;                // AUTH password, if set
  int db = 0;
  absl::Duration timeout = absl::Seconds(2);  // connect, and each read/write
};

// Not thread-safe: the owner serializes calls. Failures come back as
// Status, without the "redis ADDRESS:" prefix (see address()):
//   Unavailable       cannot connect, I/O error, timeout, closed by the
//                     server, or a READONLY / MASTERDOWN / LOADING / BUSY
//                     reply (a failover or restart in progress);
//   PermissionDenied  AUTH refused (the password never appears in it).
// Any failure drops the connection. Other error replies are returned as
// replies (type REDIS_REPLY_ERROR) for the caller to interpret.
class RedisConnection {
 public:
  explicit RedisConnection(RedisConnectionOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs one command, connecting first if needed. `timeout` overrides the
  // read timeout for this command (for blocking commands such as XREAD).
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv);
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv,
                                     absl::Duration timeout);
  // Sends all `commands` in one write, then reads one reply each.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

  // Connects now unless connected: for callers that need address() of
  // the server the next command goes to.
  absl::Status EnsureConnected();
  bool connected() const { return ctx_ != nullptr; }
  // While not connected: why the last attempt to connect failed, if it
  // ended at or after `since`; OK otherwise. Lets callers queued behind
  // that attempt fail at once instead of each waiting out the timeout.
  absl::Status ConnectFailedSince(absl::Time since) const;
  void Disconnect();
  // The server this connection talks (or last talked) to, "HOST:PORT" or a
  // socket path; with Sentinel and no master found yet, a description of
  // the Sentinel set. For error messages.
  std::string address() const { return address_; }
  // Empty for a server that loses nothing it acknowledged (appendonly yes,
  // appendfsync always); otherwise its run_id, which changes at every
  // restart: a restart of such a server may have lost recent writes.
  std::string server_identity() const { return identity_; }

 private:
  struct Endpoint {
    std::string text;  // as configured or discovered
    std::string host;  // or a unix socket path
    int port = 0;      // 0: unix socket
  };

  std::string ConfiguredAddress() const;
  absl::Status Connect();
  absl::StatusOr<Endpoint> DiscoverMaster();
  absl::Status Handshake();
  // Opens a raw context; nullptr and `*error` on failure.
  redisContext* Open(const Endpoint& endpoint, std::string* error) const;
  // The reply, or Unavailable with the context's error (and disconnects).
  absl::StatusOr<RedisReply> Read();
  absl::Status IoError();
  absl::Status SetReadTimeout(absl::Duration timeout);

  const RedisConnectionOptions options_;
  redisContext* ctx_ = nullptr;
  std::string address_;
  std::string identity_;
  absl::Status connect_failure_;
  absl::Time connect_failed_at_ = absl::InfinitePast();
};

// "HOST:PORT" ("[v6]:PORT" too) or a path starting with '/'.
absl::Status ParseRedisAddress(absl::string_view text, std::string* host,
                               int* port);

// Reply helpers: false if `reply` is not of a fitting type.
bool ReplyIsError(const redisReply* reply);
// A string or status reply's text; an error reply's message.
std::string ReplyText(const redisReply* reply);
// An integer reply, or a string reply holding a decimal integer.
bool ReplyInt(const redisReply* reply, int64_t* value);
// An array reply's `i`th element, or nullptr.
const redisReply* ReplyElement(const redisReply* reply, size_t i);
size_t ReplyArraySize(const redisReply* reply);  // 0 if not an array

}  // namespace relaysync

#endif  // RELAYSYNC_BACKENDS_STORE_REDIS_CONNECTION_H_
