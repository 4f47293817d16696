// The Lua scripts through which RedisStore changes and reads its keys: each
// one mirrors RelayRecord's rules and runs atomically inside Redis, so
// several coordinators sharing one Redis see one order of changes.
// Key layout and reply shapes: docs/redis.md.
#ifndef RELAYSYNC_BACKENDS_STORE_REDIS_SCRIPTS_H_
#define RELAYSYNC_BACKENDS_STORE_REDIS_SCRIPTS_H_

#include <cstdint>
#include <string>

namespace relaysync::redis {

// Lua numbers are doubles: the times the scripts store (login times, Put
// ticks, Delete's now) must lie within +-kMaxTime to compare exactly.
constexpr int64_t kMaxTime = (int64_t{1} << 53) - 1;

// Every script takes the same seven keys, in this order, and ARGV[1] = a
// fresh random epoch (used when the meta hash is missing, i.e. the
// namespace is new or Redis lost it, or the master changed), ARGV[2] = the
// change log limit, ARGV[3] = the master's address as Sentinel named it
// ("" without Sentinel). Their own arguments follow.
enum KeyIndex {
  kFenceKey,  // {p}:rec: the record hash of an older relaysync, or its fence
  kByLoginKey,
  kByDeleteKey,
  kLogKey,
  kMetaKey,
  kWhoKey,
  kOldRecKey,  // {p}:rec_v1: that hash while kMigrate moves it
  kKeys
};
constexpr int kCommonArgs = 3;

enum class Script {
  // -> {epoch, version, count}
  kInfo,
  // ARGV[4]: n, the batch's distinct addresses; ARGV[5..4+n]: them;
  // then per login (already past the cut-off): the slot of its address
  // (1..n), login_time, WhoValue(login_time, attribution).
  // -> {epoch, first_version, "addr ...", "ticks ...", "0101...", {}}
  kMerge,
  // ARGV[4..6]: address, ticks, WhoValue(ticks, attribution). -> as kMerge
  kPut,
  // ARGV[4]: now; ARGV[5..]: addresses. -> as kMerge, 4th: missing
  kDelete,
  // ARGV[4]: cutoff, ARGV[5]: forget_before. -> as kMerge
  kExpire,
  // Without the prelude: one step of the move from the record hash of an
  // older relaysync. ARGV[4]: step, ARGV[5]: cursor, ARGV[6]: SCAN COUNT.
  // Steps and replies: redis_scripts.cc.
  kMigrate,
};
constexpr int kScriptCount = 6;

// Starts an error the scripts return when the namespace's layout is not
// theirs: the records of an older relaysync wait for kMigrate.
constexpr char kLayoutError[] = "RELAYSYNC_LAYOUT";

// The full Lua text of `script`.
const std::string& ScriptText(Script script);

}  // namespace relaysync::redis

#endif  // RELAYSYNC_BACKENDS_STORE_REDIS_SCRIPTS_H_
