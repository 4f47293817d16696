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

// Every script takes the same six keys, in this order, and ARGV[1] = a
// fresh random epoch (used when the meta hash is missing, i.e. the
// namespace is new or Redis lost it, or the master changed), ARGV[2] = the
// change log limit, ARGV[3] = the master's address as Sentinel named it
// ("" without Sentinel). Their own arguments follow.
enum KeyIndex {
  kRecKey,
  kByLoginKey,
  kByDeleteKey,
  kLogKey,
  kMetaKey,
  kWhoKey,
  kKeys
};
constexpr int kCommonArgs = 3;

enum class Script {
  // -> {epoch, version, count}
  kInfo,
  // ARGV[4..]: address, login_time, attribution triples (already past
  // the cut-off; attribution as PackAttribution).
  // -> {epoch, first_version, {address, ticks, removed, ...}, {}}
  kMerge,
  // ARGV[4..7]: address, ticks, ticks - 1, attribution. -> as kMerge
  kPut,
  // ARGV[4]: now; ARGV[5..]: addresses. -> as kMerge, 4th: missing
  kDelete,
  // ARGV[4]: cutoff, ARGV[5]: forget_before. -> as kMerge
  kExpire,
};
constexpr int kScriptCount = 5;

// The full Lua text of `script`.
const std::string& ScriptText(Script script);

}  // namespace relaysync::redis

#endif  // RELAYSYNC_BACKENDS_STORE_REDIS_SCRIPTS_H_
