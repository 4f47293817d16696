// RedisStore against real redis-server processes: the Store conformance
// suite, plus what only a shared network store has: unreachable servers,
// restarts (with and without data), AUTH and ACLs, SELECT, unix sockets,
// two coordinators on one Redis, WaitForChange, and a Sentinel failover.
#include "backends/store/redis_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/redis_server.h"
#include "testing/wait.h"
#include "tests/backends/store/store_conformance_test.h"

namespace relaysync {
namespace {

using ::relaysync::testing::Entries;
using ::relaysync::testing::kByAdmin;
using ::relaysync::testing::RedisSentinel;
using ::relaysync::testing::RedisServer;
using ::relaysync::testing::RedisServerOptions;
using ::relaysync::testing::SharedRedisServer;
using ::relaysync::testing::StoreConformanceTest;
using ::relaysync::testing::StoreFactory;
using ::relaysync::testing::WaitForCondition;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int64_t kNone = INT64_MIN;
constexpr int64_t kT = 1700000000;

StoreFactory RedisFactory() {
  return {
      "Redis",
      [](const std::string& scratch_dir,
         size_t change_log_limit) -> absl::StatusOr<std::unique_ptr<Store>> {
        RedisStoreOptions options;
        options.address = SharedRedisServer().address();
        options.prefix = scratch_dir.substr(scratch_dir.rfind('/') + 1);
        options.change_log_limit = change_log_limit;
        absl::StatusOr<std::unique_ptr<RedisStore>> store =
            RedisStore::Open(options);
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      }};
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreConformanceTest,
                         ::testing::Values(RedisFactory()),
                         ::relaysync::testing::StoreFactoryName);

// The same suite as the least-privilege user of deploy/redis/relaysync.acl
// (docs/redis.md), with the default user behind a password: every command
// the store sends, directly or from its scripts, is one the ACL allows.
// Only the prefix in the key pattern differs: each store has its own.
RedisServer& AclServer() {
  static RedisServer server([] {
    RedisServerOptions options;
    options.appendonly = true;
    options.requirepass = "default-pw-31337";
    absl::StatusOr<std::string> user =
        ::relaysync::testing::RelaysyncAclUser("acl-pw-2718", "relaysync-*");
    EXPECT_TRUE(user.ok()) << user.status();
    options.acl_users = {user.value_or("")};
    return options;
  }());
  if (!server.running()) {
    const absl::Status started = server.Start();
    EXPECT_TRUE(started.ok()) << started;
  }
  return server;
}

StoreFactory RedisAclFactory() {
  return {
      "RedisAclUser",
      [](const std::string& scratch_dir,
         size_t change_log_limit) -> absl::StatusOr<std::unique_ptr<Store>> {
        RedisStoreOptions options;
        options.address = AclServer().address();
        options.user = "relaysync";
        options.password = "acl-pw-2718";
        options.prefix = scratch_dir.substr(scratch_dir.rfind('/') + 1);
        options.change_log_limit = change_log_limit;
        absl::StatusOr<std::unique_ptr<RedisStore>> store =
            RedisStore::Open(options);
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      }};
}

INSTANTIATE_TEST_SUITE_P(RedisAcl, StoreConformanceTest,
                         ::testing::Values(RedisAclFactory()),
                         ::relaysync::testing::StoreFactoryName);

using ::relaysync::testing::Addr;

// A namespace no other test in this process uses.
std::string FreshPrefix() {
  static int n = 0;
  return absl::StrCat("test-", getpid(), "-", ++n);
}

// A loopback port whose connects hang until they time out, as into a
// partition: a listener that never accepts, with a full backlog, so that
// the kernel drops every further SYN.
class BlackHole {
 public:
  explicit BlackHole(int port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    const int on = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = listener_ >= 0 &&
          bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
              0 &&
          listen(listener_, 0) == 0;
    // Backlog 0 queues one connection; the second one's SYN is dropped.
    for (int i = 0; ok_ && i < 2; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      fillers_.push_back(fd);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ~BlackHole() {
    for (int fd : fillers_) close(fd);
    if (listener_ >= 0) close(listener_);
  }
  bool ok() const { return ok_; }

 private:
  int listener_ = -1;
  bool ok_ = false;
  std::vector<int> fillers_;
};

std::unique_ptr<RedisStore> OpenOrFail(RedisStoreOptions options) {
  absl::StatusOr<std::unique_ptr<RedisStore>> store = RedisStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<RedisStore> OpenOrFail(const RedisServer& server,
                                       const std::string& prefix) {
  RedisStoreOptions options;
  options.address = server.address();
  options.prefix = prefix;
  return OpenOrFail(options);
}

uint64_t MustVersion(Store& store) {
  absl::StatusOr<uint64_t> v = store.Version();
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : 0;
}

TEST(RedisStoreTest, UnreachableRedisIsUnavailableNamingTheAddress) {
  RedisServer server;  // started and killed: a port nobody listens on
  ASSERT_EQ(server.Start(), absl::OkStatus());
  const std::string address = server.address();
  server.Stop(SIGKILL);
  const absl::Time start = absl::Now();
  RedisStoreOptions options;
  options.address = address;
  absl::StatusOr<std::unique_ptr<RedisStore>> store = RedisStore::Open(options);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("redis " + address));
  EXPECT_THAT(store.status().message(), HasSubstr("refused"));

  options.sentinels = {address};
  options.master_name = "mymaster";
  store = RedisStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(address));
  EXPECT_THAT(store.status().message(), HasSubstr("mymaster"));
}

TEST(RedisStoreTest, KeysFollowTheDocumentedLayout) {
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> store = OpenOrFail(server, p);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Name(),
            absl::StrCat("redis:", server.address(), " {", p, "}"));
  EXPECT_EQ(store->concurrent_merges(), 2);  // merge_connections
  ASSERT_TRUE(
      store->MergeLogins({{"10.0.0.1", kT}, {"10.0.0.2", kT + 1}}, kNone).ok());
  ASSERT_TRUE(store->Delete({"10.0.0.2"}, kT + 5).ok());
  const std::string k = absl::StrCat("{", p, "}:");
  // The two sorted sets are the state; {p}:rec is only the fence that
  // stops an older relaysync's scripts (WRONGTYPE before they write).
  EXPECT_EQ(server.Command({"TYPE", k + "rec"}), "string");
  EXPECT_THAT(server.Command({"HGET", k + "rec", "10.0.0.1"}),
              HasSubstr("WRONGTYPE"));
  EXPECT_EQ(server.Command({"TYPE", k + "by_login"}), "zset");
  EXPECT_EQ(server.Command({"TYPE", k + "by_delete"}), "zset");
  EXPECT_EQ(server.Command({"TYPE", k + "log"}), "stream");
  EXPECT_EQ(server.Command({"ZRANGE", k + "by_login", "0", "-1", "WITHSCORES"}),
            absl::StrCat("10.0.0.1\n", kT));
  EXPECT_EQ(
      server.Command({"ZRANGE", k + "by_delete", "0", "-1", "WITHSCORES"}),
      absl::StrCat("10.0.0.2\n", kT + 5));
  EXPECT_EQ(
      server.Command({"XRANGE", k + "log", "-", "+"}),
      absl::StrCat("2-1\nv\n1\na\n10.0.0.1 10.0.0.2\nt\n", kT, " ", kT + 1,
                   "\nr\n00\n", "3-1\nv\n3\na\n10.0.0.2\nt\n0\nr\n1"));
  EXPECT_EQ(server.Command(
                {"HMGET", k + "meta", "epoch", "version", "count", "schema"}),
            absl::StrCat(store->Epoch(), "\n3\n1\n2"));
}

TEST(RedisStoreTest, AttributionIsKeptApartWithItsLoginTime) {
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> store = OpenOrFail(server, p);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->MergeLogins({{"10.0.0.1", kT, {"mx1", "alice"}},
                                 {"10.0.0.2", kT, {"mx2", "bob"}}},
                                kNone)
                  .ok());
  const std::string k = absl::StrCat("{", p, "}:");
  EXPECT_EQ(server.Command({"TYPE", k + "who"}), "hash");
  EXPECT_EQ(server.Command({"HGET", k + "who", "10.0.0.1"}),
            absl::StrCat(kT, ":3:mx1alice"));
  // Written for another login time (by a relaysync that kept none), or
  // damaged: unknown, not misattributed.
  server.Command({"HSET", k + "who", "10.0.0.1", "1234:3:mx9eve"});
  server.Command({"HSET", k + "who", "10.0.0.2", "junk"});
  absl::StatusOr<std::vector<AttributedEntry>> read = store->ReadAttributed();
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  for (const AttributedEntry& e : *read) {
    EXPECT_TRUE(e.who.empty()) << e.address << ": " << e.who.user;
  }
}

TEST(RedisStoreTest, ReadsChangeLogEntriesOfOneChangeWithoutFirstVersion) {
  // Earlier builds wrote one entry per change, without "v".
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> store = OpenOrFail(server, p);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->MergeLogins({{"10.0.0.1", kT}}, kNone).ok());
  const std::string k = absl::StrCat("{", p, "}:");
  server.Command({"XADD", k + "log", "2-1", "a", "10.0.0.2", "t",
                  absl::StrCat(kT + 1), "r", "0"});
  server.Command({"HSET", k + "meta", "version", "2"});
  absl::StatusOr<std::vector<StateChange>> changes = store->ChangesSince(0, 10);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[1].version, 2u);
  EXPECT_EQ((*changes)[1].address, "10.0.0.2");
  EXPECT_EQ((*changes)[1].ticks, kT + 1);
  // A damaged entry is data loss, not a silent gap.
  server.Command({"XADD", k + "log", "3-1", "v", "3", "a", "10.0.0.3", "t", "x",
                  "r", "0"});
  server.Command({"HSET", k + "meta", "version", "3"});
  EXPECT_EQ(store->ChangesSince(0, 10).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RedisStoreTest, TimesAreExactUpToTwoToThe53) {
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> store = OpenOrFail(server, p);
  ASSERT_NE(store, nullptr);
  constexpr int64_t kMax = (int64_t{1} << 53) - 1;
  ASSERT_TRUE(store->MergeLogins({{"10.0.0.1", kMax}}, kNone).ok());
  ASSERT_TRUE(
      store->Put("10.0.0.2", -kMax, kByAdmin).ok());  // delete time -2^53
  ASSERT_TRUE(store->Put("10.0.0.3", -kMax + 1, kByAdmin).ok());
  EXPECT_EQ(
      Entries(*store),
      (std::map<std::string, int64_t>{
          {"10.0.0.1", kMax}, {"10.0.0.2", -kMax}, {"10.0.0.3", -kMax + 1}}));
  // Each boundary holds to the second.
  EXPECT_EQ(store->Expire(-kMax, kNone)->changes.size(), 1u);
  EXPECT_THAT(store->MergeLogins({{"10.0.0.2", -kMax}}, kNone)->changes,
              IsEmpty());
  EXPECT_EQ(store->Expire(kMax - 1, kNone)->changes.size(), 1u);
  EXPECT_EQ(Entries(*store),
            (std::map<std::string, int64_t>{{"10.0.0.1", kMax}}));
  absl::StatusOr<MutationResult> all = store->Expire(INT64_MAX, INT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->changes.size(), 1u);
  EXPECT_EQ(*store->EntryCount(), 0);
  EXPECT_EQ(server.Command({"ZCARD", absl::StrCat("{", p, "}:by_login")}), "0");
  EXPECT_EQ(server.Command({"ZCARD", absl::StrCat("{", p, "}:by_delete")}),
            "0");

  EXPECT_TRUE(absl::IsInvalidArgument(
      store->Put("10.0.0.4", kMax + 1, kByAdmin).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store->MergeLogins({{"10.0.0.4", INT64_MAX}}, kNone).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(store->Delete({"10.0.0.4"}, INT64_MIN).status()));
  // ...unless the cut-off drops it anyway.
  EXPECT_TRUE(
      store->MergeLogins({{"10.0.0.4", INT64_MIN}}, INT64_MIN + 1).ok());
}

TEST(RedisStoreTest, ReconnectsAfterRedisRestart) {
  RedisServerOptions server_options;
  server_options.appendonly = true;
  RedisServer server(server_options);
  ASSERT_EQ(server.Start(), absl::OkStatus());
  std::unique_ptr<RedisStore> store = OpenOrFail(server, "relaysync");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->MergeLogins({{Addr(1), kT}, {Addr(2), kT + 1}}, kNone).ok());
  const std::string epoch = store->Epoch();

  server.Stop(SIGKILL);
  absl::StatusOr<MutationResult> down =
      store->MergeLogins({{Addr(3), kT}}, kNone);
  EXPECT_TRUE(absl::IsUnavailable(down.status())) << down.status();
  EXPECT_THAT(down.status().message(), HasSubstr(server.address()));

  ASSERT_EQ(server.Restart(), absl::OkStatus());
  // The first call after the restart reconnects by itself, and finds the
  // script cache empty (NOSCRIPT, then EVAL).
  absl::StatusOr<MutationResult> r =
      store->MergeLogins({{Addr(3), kT + 2}}, kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].version, 3u);
  EXPECT_EQ(store->Epoch(), epoch);
  EXPECT_EQ(Entries(*store),
            (std::map<std::string, int64_t>{
                {Addr(1), kT}, {Addr(2), kT + 1}, {Addr(3), kT + 2}}));
  EXPECT_EQ(store->ChangesSince(0, 10)->size(), 3u);
}

// Redis behind a partition, several callers at once (hellos of reconnecting
// agents): each waits out one connect timeout at most, not a queue of them.
TEST(RedisStoreTest, CallersQueuedBehindAFailedConnectFailWithIt) {
  RedisServer server;
  ASSERT_EQ(server.Start(), absl::OkStatus());
  RedisStoreOptions options;
  options.address = server.address();
  options.timeout = absl::Milliseconds(500);
  std::unique_ptr<RedisStore> store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  server.Stop(SIGKILL);
  auto hole = std::make_unique<BlackHole>(server.port());
  ASSERT_TRUE(hole->ok()) << "port " << server.port();

  constexpr int kCallers = 4;
  std::vector<absl::Duration> took(kCallers);
  std::vector<absl::Status> status(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      status[i] = store->Version().status();
      took[i] = absl::Now() - start;
    });
  }
  for (std::thread& t : callers) t.join();
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_TRUE(absl::IsUnavailable(status[i])) << status[i];
    EXPECT_THAT(status[i].message(), HasSubstr(server.address()));
    // One timeout, and some slack; one after another they take 2 s.
    EXPECT_LT(took[i], absl::Seconds(1)) << "caller " << i;
  }
  // Redis back: the next call connects again.
  hole.reset();
  ASSERT_EQ(server.Restart(), absl::OkStatus());
  EXPECT_TRUE(store->Version().ok());
}

TEST(RedisStoreTest, RestartOfARedisThatMayLoseWritesGivesANewEpoch) {
  // appendfsync everysec: a crash may lose the last second of writes the
  // coordinators acknowledged, so versions could be reused. The store
  // notices the restart (a new run_id) and starts a new epoch.
  RedisServerOptions server_options;
  server_options.appendonly = true;
  server_options.appendfsync = "everysec";
  RedisServer server(server_options);
  ASSERT_EQ(server.Start(), absl::OkStatus());
  std::unique_ptr<RedisStore> store = OpenOrFail(server, "relaysync");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}}, kNone).ok());
  const std::string epoch = store->Epoch();
  ASSERT_TRUE(store->MergeLogins({{Addr(2), kT}}, kNone).ok());
  EXPECT_EQ(store->Epoch(), epoch) << "same server, same epoch";
  server.Stop(SIGKILL);
  ASSERT_EQ(server.Start(), absl::OkStatus());
  ASSERT_TRUE(store->MergeLogins({{Addr(3), kT}}, kNone).ok());
  EXPECT_NE(store->Epoch(), epoch);
}

TEST(RedisStoreTest, EmptyRestartGivesANewEpoch) {
  RedisServer server;
  ASSERT_EQ(server.Start(), absl::OkStatus());
  std::unique_ptr<RedisStore> store = OpenOrFail(server, "relaysync");
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->MergeLogins({{Addr(i), kT}}, kNone).ok());
  }
  const std::string old_epoch = store->Epoch();
  const uint64_t old_version = MustVersion(*store);
  ASSERT_EQ(old_version, 5u);

  ASSERT_EQ(server.WipeAndRestart(), absl::OkStatus());
  // A follower waiting for version 6 of the old epoch wakes at once.
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> v =
      store->WaitForChange(old_version, absl::Seconds(10));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(*v, 0u);
  const std::string new_epoch = store->Epoch();
  EXPECT_NE(new_epoch, old_epoch);
  EXPECT_FALSE(new_epoch.empty());

  absl::StatusOr<Snapshot> snapshot = store->ReadSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->epoch, new_epoch);
  EXPECT_EQ(snapshot->version, 0u);
  EXPECT_THAT(snapshot->entries, IsEmpty());
  EXPECT_TRUE(
      absl::IsOutOfRange(store->ChangesSince(old_version, 10).status()));
  absl::StatusOr<MutationResult> r = store->MergeLogins({{Addr(9), kT}}, kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes[0].version, 1u);
  EXPECT_EQ(store->Epoch(), new_epoch);
}

TEST(RedisStoreTest, AuthWithPasswordAndAclUser) {
  RedisServerOptions server_options;
  server_options.requirepass = "default-pw-5150";
  // The least privilege docs/redis.md recommends.
  absl::StatusOr<std::string> acl_user =
      ::relaysync::testing::RelaysyncAclUser("relay-pw-8675");
  ASSERT_TRUE(acl_user.ok()) << acl_user.status();
  server_options.acl_users = {*acl_user};
  RedisServer server(server_options);
  ASSERT_EQ(server.Start(), absl::OkStatus());

  RedisStoreOptions options;
  options.address = server.address();
  options.password = "default-pw-5150";
  std::unique_ptr<RedisStore> as_default = OpenOrFail(options);
  ASSERT_NE(as_default, nullptr);

  options.user = "relaysync";
  options.password = "relay-pw-8675";
  std::unique_ptr<RedisStore> as_relay = OpenOrFail(options);
  ASSERT_NE(as_relay, nullptr);
  EXPECT_EQ(as_relay->Epoch(), as_default->Epoch());
  ASSERT_TRUE(as_relay->MergeLogins({{Addr(1), kT}}, kNone).ok());
  ASSERT_TRUE(as_relay->Delete({Addr(1), Addr(2)}, kT + 1).ok());
  ASSERT_TRUE(as_relay->Expire(kT, kT + 1).ok());
  absl::StatusOr<std::vector<StateChange>> changes =
      as_relay->ChangesSince(0, 10);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->size(), 2u);
  EXPECT_TRUE(as_relay->ReadSnapshot().ok());
  EXPECT_TRUE(as_relay->WaitForChange(2, absl::Milliseconds(50)).ok());

  options.password = "wrong-pw-1234";
  absl::StatusOr<std::unique_ptr<RedisStore>> store = RedisStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(store.status())) << store.status();
  EXPECT_THAT(store.status().message(),
              HasSubstr("AUTH as user \"relaysync\""));
  EXPECT_THAT(store.status().message(), HasSubstr(server.address()));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("wrong-pw-1234")));

  options.user.clear();
  options.password.clear();
  store = RedisStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("NOAUTH"));

  // The ACL confines the user to its prefix.
  options.user = "relaysync";
  options.password = "relay-pw-8675";
  options.prefix = "other";
  store = RedisStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("NOPERM"));

  // Nothing else: no other keys, no administration, no reading the
  // server's secrets (CONFIG GET requirepass), no pub/sub.
  for (const std::vector<std::string>& denied :
       std::vector<std::vector<std::string>>{{"CONFIG", "GET", "requirepass"},
                                             {"FLUSHALL"},
                                             {"KEYS", "*"},
                                             {"SCAN", "0"},
                                             {"GET", "other"},
                                             {"HGETALL", "{other}:rec"},
                                             {"DEBUG", "SLEEP", "0"},
                                             {"SCRIPT", "FLUSH"},
                                             {"ACL", "LIST"},
                                             {"SUBSCRIBE", "x"},
                                             {"SHUTDOWN"}}) {
    std::vector<std::string> argv = {"ACL", "DRYRUN", "relaysync"};
    argv.insert(argv.end(), denied.begin(), denied.end());
    EXPECT_THAT(server.Command(argv), HasSubstr("no permissions")) << denied[0];
  }
  EXPECT_EQ(server.Command(
                {"ACL", "DRYRUN", "relaysync", "HGETALL", "{relaysync}:rec"}),
            "OK");
}

TEST(RedisStoreTest, AclUserSelectsADatabaseAndNoticesALossyRestart) {
  // The ACL denies CONFIG (it would reveal requirepass), so the store
  // cannot tell a durable Redis; INFO's run_id still tells a restart, and
  // a restart of a Redis that may have lost writes starts a new epoch.
  RedisServerOptions server_options;
  server_options.appendonly = true;
  server_options.appendfsync = "everysec";
  server_options.requirepass = "default-pw-5150";
  absl::StatusOr<std::string> acl_user =
      ::relaysync::testing::RelaysyncAclUser("relay-pw-8675");
  ASSERT_TRUE(acl_user.ok()) << acl_user.status();
  server_options.acl_users = {*acl_user};
  RedisServer server(server_options);
  ASSERT_EQ(server.Start(), absl::OkStatus());
  RedisStoreOptions options;
  options.address = server.address();
  options.user = "relaysync";
  options.password = "relay-pw-8675";
  options.db = 3;
  std::unique_ptr<RedisStore> store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}}, kNone).ok());
  EXPECT_EQ(server.Command({"HGET", "{relaysync}:meta", "version"}, 3), "1");
  const std::string epoch = store->Epoch();
  server.Stop(SIGKILL);
  ASSERT_EQ(server.Start(), absl::OkStatus());
  // The first call may meet the connection the restart broke (Unavailable,
  // then reconnected), as a coordinator's merge would; it retries.
  ASSERT_TRUE(::relaysync::testing::WaitForCondition(
      [&] {
        return store->MergeLogins({{Addr(2), kT}}, kNone).ok();
      },
      absl::Seconds(10)));
  EXPECT_NE(store->Epoch(), epoch);
}

TEST(RedisStoreTest, SelectsTheDatabase) {
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  RedisStoreOptions options;
  options.address = server.address();
  options.prefix = p;
  options.db = 3;
  std::unique_ptr<RedisStore> store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Name(),
            absl::StrCat("redis:", server.address(), "/3 {", p, "}"));
  ASSERT_TRUE(store->MergeLogins({{Addr(1), kT}}, kNone).ok());
  const std::string meta = absl::StrCat("{", p, "}:meta");
  EXPECT_EQ(server.Command({"HGET", meta, "version"}, 3), "1");
  EXPECT_EQ(server.Command({"EXISTS", meta}, 0), "0");

  options.db = 99;
  absl::StatusOr<std::unique_ptr<RedisStore>> bad = RedisStore::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("SELECT 99"));
}

TEST(RedisStoreTest, ConnectsOverAUnixSocket) {
  RedisServer& server = SharedRedisServer();
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> tcp = OpenOrFail(server, p);
  ASSERT_NE(tcp, nullptr);
  RedisStoreOptions options;
  options.address = server.unix_socket();
  options.prefix = p;
  std::unique_ptr<RedisStore> unix_store = OpenOrFail(options);
  ASSERT_NE(unix_store, nullptr);
  EXPECT_EQ(unix_store->Epoch(), tcp->Epoch());
  ASSERT_TRUE(unix_store->MergeLogins({{Addr(1), kT}}, kNone).ok());
  EXPECT_EQ(MustVersion(*tcp), 1u);
}

TEST(RedisStoreTest, TwoStoresOnOneRedisSeeOneVersionSequence) {
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> a = OpenOrFail(SharedRedisServer(), p);
  std::unique_ptr<RedisStore> b = OpenOrFail(SharedRedisServer(), p);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->Epoch(), b->Epoch());

  // Two coordinators merging overlapping logins at the same time.
  std::vector<StateChange> seen[2];
  std::string errors[2];
  auto run = [&](RedisStore* store, int who) {
    for (int i = 0; i < 100; ++i) {
      std::vector<Login> batch;
      for (int j = 0; j < 3; ++j) {
        batch.push_back({Addr((i * 3 + j + who * 7) % 40), kT + i * 10 + who});
      }
      absl::StatusOr<MutationResult> r = store->MergeLogins(batch, kNone);
      if (!r.ok()) {
        errors[who] = r.status().ToString();
        return;
      }
      seen[who].insert(seen[who].end(), r->changes.begin(), r->changes.end());
    }
  };
  std::thread ta(run, a.get(), 0);
  std::thread tb(run, b.get(), 1);
  ta.join();
  tb.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");

  std::vector<StateChange> all = seen[0];
  all.insert(all.end(), seen[1].begin(), seen[1].end());
  std::sort(all.begin(), all.end(),
            [](const StateChange& x, const StateChange& y) {
              return x.version < y.version;
            });
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].version, i + 1);
  for (RedisStore* store : {a.get(), b.get()}) {
    absl::StatusOr<std::vector<StateChange>> log =
        store->ChangesSince(0, SIZE_MAX);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_EQ(log->size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ((*log)[i].address, all[i].address);
      EXPECT_EQ((*log)[i].ticks, all[i].ticks);
    }
  }
  EXPECT_EQ(Entries(*a), Entries(*b));
}

TEST(RedisStoreTest, WaitForChangeWakesOnAnotherStoresWrite) {
  const std::string p = FreshPrefix();
  std::unique_ptr<RedisStore> follower = OpenOrFail(SharedRedisServer(), p);
  std::unique_ptr<RedisStore> writer = OpenOrFail(SharedRedisServer(), p);
  ASSERT_NE(follower, nullptr);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->MergeLogins({{Addr(1), kT}}, kNone).ok());

  // Nothing new: returns the version once the timeout passes.
  absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> v =
      follower->WaitForChange(1, absl::Milliseconds(300));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 1u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // Already newer: returns at once.
  start = absl::Now();
  EXPECT_EQ(*follower->WaitForChange(0, absl::Seconds(10)), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));

  absl::StatusOr<uint64_t> woken;
  absl::Duration waited;
  std::thread wait([&] {
    const absl::Time t0 = absl::Now();
    woken = follower->WaitForChange(1, absl::Seconds(20));
    waited = absl::Now() - t0;
  });
  absl::SleepFor(absl::Milliseconds(300));
  // The follower's own store keeps working while it waits.
  EXPECT_EQ(MustVersion(*follower), 1u);
  ASSERT_TRUE(writer->MergeLogins({{Addr(2), kT}}, kNone).ok());
  wait.join();
  ASSERT_TRUE(woken.ok()) << woken.status();
  EXPECT_EQ(*woken, 2u);
  EXPECT_GE(waited, absl::Milliseconds(250));
  EXPECT_LT(waited, absl::Seconds(3));
}

TEST(RedisStoreTest, WaitForChangeWhileRedisIsDownWaitsOutTheTimeout) {
  RedisServer server;
  ASSERT_EQ(server.Start(), absl::OkStatus());
  std::unique_ptr<RedisStore> store = OpenOrFail(server, "relaysync");
  ASSERT_NE(store, nullptr);
  server.Stop(SIGKILL);
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> v = store->WaitForChange(0, absl::Seconds(1));
  const absl::Duration waited = absl::Now() - start;
  EXPECT_TRUE(absl::IsUnavailable(v.status())) << v.status();
  EXPECT_THAT(v.status().message(), HasSubstr(server.address()));
  EXPECT_GE(waited, absl::Milliseconds(900));
  EXPECT_LT(waited, absl::Seconds(4));

  // Redis coming back during a wait: the wait picks it up. (The server is
  // restarted from this thread: a child dies with the thread that forked
  // it.)
  std::thread wait([&] { v = store->WaitForChange(0, absl::Seconds(5)); });
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(server.Restart(), absl::OkStatus());
  wait.join();
  EXPECT_TRUE(v.ok()) << v.status();
}

TEST(RedisStoreTest, SurvivesAScriptCacheFlush) {
  RedisServer& server = SharedRedisServer();
  std::unique_ptr<RedisStore> store = OpenOrFail(server, FreshPrefix());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(server.Command({"SCRIPT", "FLUSH"}), "OK");
  absl::StatusOr<MutationResult> r = store->MergeLogins({{Addr(1), kT}}, kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(MustVersion(*store), 1u);
}

// Timings for docs/redis.md (printed; the bounds are only sanity checks).
TEST(RedisStoreTest, BatchAndSnapshotTimings) {
  std::unique_ptr<RedisStore> store =
      OpenOrFail(SharedRedisServer(), FreshPrefix());
  ASSERT_NE(store, nullptr);
  constexpr int kEntries = 100000;
  constexpr int kBatch = 10000;
  for (int i = 0; i < kEntries; i += kBatch) {
    std::vector<Login> logins;
    for (int j = i; j < i + kBatch; ++j)
      logins.push_back({Addr(j), kT + j % 1000});
    ASSERT_TRUE(store->MergeLogins(logins, kNone).ok());
  }
  std::vector<Login> thousand;
  for (int j = 0; j < 1000; ++j) thousand.push_back({Addr(kEntries + j), kT});
  absl::Time start = absl::Now();
  absl::StatusOr<MutationResult> r = store->MergeLogins(thousand, kNone);
  const absl::Duration merge = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes.size(), 1000u);

  start = absl::Now();
  absl::StatusOr<Snapshot> snapshot = store->ReadSnapshot();
  const absl::Duration read = absl::Now() - start;
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->entries.size(), static_cast<size_t>(kEntries + 1000));

  start = absl::Now();
  absl::StatusOr<MutationResult> expired = store->Expire(kT + 9, kT + 9);
  const absl::Duration expire = absl::Now() - start;
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(expired->changes.size(), 2000u);  // j % 1000 < 10, and the 1000

  std::cout << "MergeLogins of 1,000 new logins: " << merge
            << "\nReadSnapshot of " << snapshot->entries.size()
            << " entries: " << read << "\nExpire removing 2,000 of "
            << snapshot->entries.size() << ": " << expire << "\n";
  EXPECT_LT(merge, absl::Seconds(5));
  EXPECT_LT(read, absl::Seconds(10));
}

TEST(RedisStoreTest, SentinelFailoverIsFollowed) {
  RedisServer master;
  ASSERT_EQ(master.Start(), absl::OkStatus());
  RedisServerOptions replica_options;
  replica_options.replicaof = master.address();
  RedisServer replica(replica_options);
  ASSERT_EQ(replica.Start(), absl::OkStatus());
  ASSERT_TRUE(WaitForCondition(
      [&] {
        return absl::StrContains(replica.Command({"INFO", "replication"}),
                                 "master_link_status:up");
      },
      absl::Seconds(10)));
  RedisSentinel sentinel("relaysync-test", master.address());
  ASSERT_EQ(sentinel.Start(), absl::OkStatus());
  ASSERT_TRUE(WaitForCondition([&] { return sentinel.ReplicaCount() == 1; },
                               absl::Seconds(15)))
      << "sentinel never saw the replica";

  RedisStoreOptions options;
  options.sentinels = {sentinel.address()};
  options.master_name = "relaysync-test";
  options.timeout = absl::Milliseconds(500);
  std::unique_ptr<RedisStore> store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Name(), "redis:sentinel/relaysync-test");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->MergeLogins({{Addr(i), kT + i}}, kNone).ok());
  }
  const std::string epoch = store->Epoch();
  // Acknowledged by the replica before the master dies.
  ASSERT_TRUE(WaitForCondition(
      [&] {
        return replica.Command({"HGET", "{relaysync}:meta", "version"}) == "10";
      },
      absl::Seconds(10)));

  master.Stop(SIGKILL);
  const absl::Time killed = absl::Now();
  absl::StatusOr<MutationResult> r;
  ASSERT_TRUE(WaitForCondition(
      [&] {
        r = store->MergeLogins({{Addr(100), kT + 100}}, kNone);
        return r.ok();
      },
      absl::Seconds(20)))
      << "last error: " << r.status();
  std::cout << "failover followed after " << absl::Now() - killed << "\n";
  EXPECT_EQ(sentinel.MasterAddress(), replica.address());
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].version, 11u);
  // A new master may lack the newest changes: a new epoch makes everyone
  // take a snapshot rather than trust versions that might be reused.
  EXPECT_NE(store->Epoch(), epoch);
  EXPECT_FALSE(store->Epoch().empty());
  // Once: a coordinator that starts now sees the same new epoch.
  std::unique_ptr<RedisStore> another = OpenOrFail(options);
  ASSERT_NE(another, nullptr);
  EXPECT_EQ(another->Epoch(), store->Epoch());
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 10; ++i) expected[Addr(i)] = kT + i;
  expected[Addr(100)] = kT + 100;
  EXPECT_EQ(Entries(*store), expected);
  EXPECT_EQ(store->ChangesSince(0, SIZE_MAX)->size(), 11u);
}

}  // namespace
}  // namespace relaysync
