// The scripts are a shared prelude plus one body each. Lua numbers are
// doubles: times (|t| < 2^53, checked by RedisStore) and versions compare
// exactly, but are never formatted by Lua's tostring (14 digits): values
// written back are the caller's own strings, scores as Redis formats them
// (%.17g: exact integers below 2^53), or fmt() (%d, exact).
//
// The state is two sorted sets (docs/redis.md, Keys): a present record is
// its login time in by_login, a tombstone its delete time in by_delete, an
// unknown address is neither and behaves as RelayRecord's {0, 0}. Nothing
// else of a RelayRecord is ever needed: a present record's delete time is
// below its login time, so a login t changes it only if t > login time,
// and a delete sets max(now, login time) without it; a tombstone's login
// time is at most its delete time, so a login t revives it only if t >
// delete time, and a delete sets max(delete time, now) without it.
#include "backends/store/redis_scripts.h"

namespace relaysync::redis {
namespace {

// What an older relaysync finds at {p}:rec once this layout is in place:
// its scripts fail on it (WRONGTYPE) before writing anything.
#define RELAYSYNC_FENCE                                              \
  "'relaysync: records moved to by_login/by_delete (docs/redis.md, " \
  "Upgrading); a coordinator reading this is too old for this namespace'"

// Keys, the layout, and the meta hash. A missing meta means a new or wiped
// namespace, so a new epoch starts at version 0. Records left without it (a
// partial flush) are kept and counted; the old epoch's change log is
// dropped. ARGV[3] is the server's identity (RedisStore::SetMaster): the
// master Sentinel named, and/or the run_id of a Redis that does not fsync
// every write ("" for a durable standalone Redis). When it differs from the
// one recorded, a failover or a lossy restart may have dropped the newest
// changes, so their versions could be reused: a new epoch starts, versions
// go on.
// meta.schema is "2" for this layout. Without it, a record hash at {p}:rec
// (relaysync before 2026-12) or an unfinished migration is refused: the
// records are there, not in the sets, until relaysync-coordinator
// --migrate-redis has run. Otherwise the fence goes in and schema is set.
constexpr char kPrelude[] = R"lua(
local fence_key, login_key, delete_key, log_key, meta_key, who_key, old_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local master = ARGV[3]
local function fmt(n) return string.format('%d', n) end
local meta = redis.call('HMGET', meta_key, 'epoch', 'master', 'schema')
local epoch = meta[1]
if meta[3] ~= '2' then
  local kind = redis.call('TYPE', fence_key)['ok']
  if kind == 'hash' or redis.call('EXISTS', old_key) == 1 then
    return redis.error_reply('RELAYSYNC_LAYOUT ' .. fence_key ..
      ' holds the records of an older relaysync: stop every coordinator' ..
      ' and run relaysync-coordinator --migrate-redis once' ..
      ' (docs/redis.md, Upgrading)')
  end
  if kind == 'none' then redis.call('SET', fence_key, )lua" RELAYSYNC_FENCE
                            R"lua() end
  if epoch then redis.call('HSET', meta_key, 'schema', '2') end
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', log_key)
  redis.call('HSET', meta_key, 'epoch', epoch, 'version', '0',
             'count', fmt(redis.call('ZCARD', login_key)), 'master', master,
             'schema', '2')
elseif master ~= '' and meta[2] ~= master then
  epoch = ARGV[1]
  redis.call('HSET', meta_key, 'epoch', epoch, 'master', master)
end
)lua";

constexpr char kInfoBody[] = R"lua(
local vc = redis.call('HMGET', meta_key, 'version', 'count')
return {epoch, vc[1], vc[2]}
)lua";

// Records and the change log, shared by the mutations. A record's
// attribution lives apart, in who_key, as "<login_time>:" and the packed
// attribution of the login or add that set that login time (the caller
// sends it so): snapshots never read it, and one whose time is not the
// record's login time counts as unknown, so a tombstone's is never
// rewritten. finish() appends the call's changes to the log as one entry
// (one XADD per call, not per change: on a batch of logins that was a
// tenth of Redis's time) under the ID "<last version>-1", with fields v
// (first version), a (addresses), t (ticks) and r (one 0/1 per change).
constexpr char kMutationPrelude[] = R"lua(
local limit = tonumber(ARGV[2])
local vc = redis.call('HMGET', meta_key, 'version', 'count')
local version, count = tonumber(vc[1]), tonumber(vc[2])
local first_version = version + 1
local log_a, log_t, log_r, n_log = {}, {}, {}, 0

local function emit(addr, ticks, removed)
  n_log = n_log + 1
  log_a[n_log], log_t[n_log], log_r[n_log] = addr, ticks, removed
end

-- redis.call(cmd, key, list[from..to]...) in slices: Lua's unpack() can
-- push only ~8,000 values (LUAI_MAXCSTACK). 4,000 is even: pairs stay
-- together. Table replies are joined.
local function call_range(cmd, key, list, from, to)
  if to - from < 4000 then
    return redis.call(cmd, key, unpack(list, from, to))
  end
  local out, o = {}, 0
  for i = from, to, 4000 do
    local r = redis.call(cmd, key, unpack(list, i, math.min(i + 3999, to)))
    if type(r) == 'table' then
      for _, v in ipairs(r) do o = o + 1; out[o] = v end
    end
  end
  return out
end

-- A record: its login time while present, else false and its delete time
-- (false too for an unknown address, which is {0, 0}). Scores as strings.
local function load(addr)
  local l = redis.call('ZSCORE', login_key, addr)
  if l then return l, false end
  return false, redis.call('ZSCORE', delete_key, addr)
end

-- Replies {epoch, first version, addresses, ticks, removed flags,
-- missing}, the changes packed as in the log entry.
local function finish(missing)
  local a, t, r =
    table.concat(log_a, ' '), table.concat(log_t, ' '), table.concat(log_r)
  if n_log > 0 then
    local last = version + n_log
    redis.call('XADD', log_key, fmt(last) .. '-1', 'v', fmt(first_version),
               'a', a, 't', t, 'r', r)
    -- Keeps every entry holding one of the last `limit` versions.
    local keep_from = last - limit + 1
    if keep_from > 1 then
      redis.call('XTRIM', log_key, 'MINID', fmt(keep_from))
    end
    redis.call('HSET', meta_key, 'version', fmt(last), 'count', fmt(count))
  end
  return {epoch, fmt(first_version), a, t, r, missing}
end
)lua";

// RelayRecord::MergeLogin: the larger time wins. This is the hot path (one
// call per group-committed batch of logins) and Redis's main thread is
// what limits ingest; each redis.call has a fixed cost (Lua glue, command
// dispatch, one more command in the AOF and replication stream) besides
// its own work, and so has every Lua table built per login. So the caller
// sends the batch's distinct addresses once (ARGV[5..4+n]) and each login
// as (slot of its address, login time, who value); the script:
//   1. reads the present ones' login times with one ZMSCORE by_login, the
//      rest's delete times with one ZMSCORE by_delete;
//   2. folds the logins in ARGV order: each login that raises an address's
//      login time past its delete time, including a later one for an
//      address already raised in this batch, gets its own change and
//      version; one at or below a tombstone's delete time changes nothing
//      (its login time is never needed, see the top);
//   3. writes each raised address once: one multi-member ZADD into
//      by_login, one multi-field HSET of who, a ZREM from by_delete for
//      the tombstones that came back.
// A merge only raises login times, never delete times, so a record can
// only become present, never stop being present: nothing leaves by_login.
constexpr char kMergeBody[] = R"lua(
local n = tonumber(ARGV[4])
-- 1. Per slot k (address ARGV[4 + k]): cur[k] = login time while present,
-- else false and del[k] = delete time (0 if unknown), back[k] = tombstone.
local cur, del, back = {}, {}, {}
local lt = call_range('ZMSCORE', login_key, ARGV, 5, 4 + n)
local rest, rest_k, m = {}, {}, 0
for k = 1, n do
  local s = lt[k]
  if s then
    cur[k] = tonumber(s)
  else
    cur[k] = false
    m = m + 1
    rest[m], rest_k[m] = ARGV[4 + k], k
  end
end
if m > 0 then
  local dt = call_range('ZMSCORE', delete_key, rest, 1, m)
  for j = 1, m do
    local k, s = rest_k[j], dt[j]
    if s then
      del[k], back[k] = tonumber(s), true
    else
      del[k] = 0
    end
  end
end

-- 2. The fold. win[k]: the ARGV index of the login that set the final
-- login time (the first of equal times keeps it).
local win, touched, nt = {}, {}, 0
for i = 5 + n, #ARGV, 3 do
  local k, t = tonumber(ARGV[i]), ARGV[i + 1]
  local t_n, l = tonumber(t), cur[k]
  if (l and t_n > l) or (not l and t_n > del[k]) then
    if not l then count = count + 1 end
    cur[k] = t_n
    emit(ARGV[4 + k], t, '0')
    if not win[k] then
      nt = nt + 1
      touched[nt] = k
    end
    win[k] = i
  end
end

-- 3. Write back each raised address once.
if nt > 0 then
  local logins, whos, undeleted, nu = {}, {}, {}, 0
  for j = 1, nt do
    local k = touched[j]
    local i, addr = win[k], ARGV[4 + k]
    logins[2 * j - 1], logins[2 * j] = ARGV[i + 1], addr
    whos[2 * j - 1], whos[2 * j] = addr, ARGV[i + 2]
    if back[k] then
      nu = nu + 1
      undeleted[nu] = addr
    end
  end
  call_range('ZADD', login_key, logins, 1, 2 * nt)
  call_range('HSET', who_key, whos, 1, 2 * nt)
  if nu > 0 then call_range('ZREM', delete_key, undeleted, 1, nu) end
end
return finish({})
)lua";

// RelayRecord::Put: login = ticks, so present whatever it was (the delete
// time drops below ticks), with the admin's attribution (ARGV[6], the who
// value for ticks).
constexpr char kPutBody[] = R"lua(
local addr, ticks = ARGV[4], ARGV[5]
local l, d = load(addr)
if l then
  if tonumber(l) ~= tonumber(ticks) then
    redis.call('ZADD', login_key, ticks, addr)
    emit(addr, ticks, '0')
  end
else
  if d then redis.call('ZREM', delete_key, addr) end
  redis.call('ZADD', login_key, ticks, addr)
  count = count + 1
  emit(addr, ticks, '0')
end
redis.call('HSET', who_key, addr, ARGV[6])
return finish({})
)lua";

// RelayRecord::Delete: delete = max(delete, now, login); an address that
// was not present is reported, and its delete time recorded all the same.
constexpr char kDeleteBody[] = R"lua(
local now = ARGV[4]
local now_n = tonumber(now)
local missing, nm = {}, 0
for i = 5, #ARGV do
  local addr = ARGV[i]
  local l, d = load(addr)
  local new_d
  if l then
    -- Its delete time is below its login time.
    new_d = now
    if tonumber(l) > now_n then new_d = l end
    redis.call('ZREM', login_key, addr)
    count = count - 1
    emit(addr, '0', '1')
  else
    -- Its login time is at most its delete time; unknown is {0, 0}.
    nm = nm + 1
    missing[nm] = addr
    new_d = d or '0'
    if now_n > tonumber(new_d) then new_d = now end
  end
  if new_d ~= d then redis.call('ZADD', delete_key, new_d, addr) end
end
return finish(missing)
)lua";

// RelayRecord::Expire on the due end of by_login (delete = login, or erased
// at once when that is <= forget_before), then forgets the due end of
// by_delete, attributions with them.
constexpr char kExpireBody[] = R"lua(
local cutoff, forget_before = ARGV[4], ARGV[5]
local forget = tonumber(forget_before)
local due = redis.call('ZRANGEBYSCORE', login_key, '-inf', cutoff,
                       'WITHSCORES')
if #due > 0 then
  local tombs, gone, nt, ng = {}, {}, 0, 0
  for i = 1, #due, 2 do
    local addr, l = due[i], due[i + 1]
    count = count - 1
    emit(addr, '0', '1')
    if tonumber(l) <= forget then
      ng = ng + 1
      gone[ng] = addr
    else
      tombs[nt + 1], tombs[nt + 2] = l, addr
      nt = nt + 2
    end
  end
  redis.call('ZREMRANGEBYSCORE', login_key, '-inf', cutoff)
  if nt > 0 then call_range('ZADD', delete_key, tombs, 1, nt) end
  if ng > 0 then call_range('HDEL', who_key, gone, 1, ng) end
end
local old = redis.call('ZRANGEBYSCORE', delete_key, '-inf', forget_before)
if #old > 0 then
  call_range('HDEL', who_key, old, 1, #old)
  redis.call('ZREMRANGEBYSCORE', delete_key, '-inf', forget_before)
end
return finish({})
)lua";

// The one-time move from the record hash of relaysync before 2026-12
// ({p}:rec, address -> "login:delete") to this layout, one bounded step per
// call (RedisStore::MigrateLayout; all coordinators stopped). ARGV[4] is
// the step, ARGV[5] a SCAN cursor, ARGV[6] a SCAN COUNT. That layout kept
// by_login and by_delete as indexes of the hash, so they already hold the
// state when they agree with it; the hash is the truth where they do not.
//   fence:   renames the hash to old_key and puts the fence in its place,
//            so that older coordinators fail from now on. -> 1 if old_key
//            exists (there is something to check), else 0.
//   records: one HSCAN step over old_key: each record's index entry is
//            made to agree with it. -> {next cursor, records, fixed}
//   login, delete: one ZSCAN step over that set: a member with no record
//            (invisible to the old snapshots) is removed, so it cannot come
//            back. -> the same
//   finish:  drops old_key (UNLINK: freed off the main thread), sets the
//            schema and recounts. The epoch and the change log stay: the
//            visible state is the one the hash held.
// Every step is idempotent: an interrupted migration is simply run again.
constexpr char kMigrateScript[] = R"lua(
local fence_key, login_key, delete_key, log_key, meta_key, who_key, old_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local step, cursor, batch = ARGV[4], ARGV[5], ARGV[6]
if step == 'fence' then
  local kind = redis.call('TYPE', fence_key)['ok']
  if kind == 'hash' then
    if redis.call('EXISTS', old_key) == 1 then
      return redis.error_reply('RELAYSYNC_LAYOUT both ' .. fence_key ..
        ' and ' .. old_key .. ' hold records: inspect them by hand')
    end
    redis.call('RENAME', fence_key, old_key)
    kind = 'none'
  end
  if kind == 'none' then redis.call('SET', fence_key, )lua" RELAYSYNC_FENCE
                                  R"lua() end
  return redis.call('EXISTS', old_key)
end
if step == 'records' then
  local r = redis.call('HSCAN', old_key, cursor, 'COUNT', batch)
  local kv, fixed = r[2], 0
  for i = 1, #kv, 2 do
    local addr, v = kv[i], kv[i + 1]
    local c = string.find(v, ':', 1, true)
    local l, d
    if c then l, d = tonumber(string.sub(v, 1, c - 1)), string.sub(v, c + 1) end
    if not (l and tonumber(d)) then
      return redis.error_reply('RELAYSYNC_LAYOUT ' .. old_key .. ': record of ' ..
        addr .. ': bad value "' .. v .. '": fix or remove it by hand')
    end
    local present, score = l > tonumber(d)
    if present then
      score = redis.call('ZSCORE', login_key, addr)
      if not score or tonumber(score) ~= l then
        redis.call('ZADD', login_key, string.sub(v, 1, c - 1), addr)
        fixed = fixed + 1
      end
      fixed = fixed + redis.call('ZREM', delete_key, addr)
    else
      score = redis.call('ZSCORE', delete_key, addr)
      if not score or tonumber(score) ~= tonumber(d) then
        redis.call('ZADD', delete_key, d, addr)
        fixed = fixed + 1
      end
      fixed = fixed + redis.call('ZREM', login_key, addr)
    end
  end
  return {r[1], #kv / 2, fixed}
end
if step == 'login' or step == 'delete' then
  local key = login_key
  if step == 'delete' then key = delete_key end
  local r = redis.call('ZSCAN', key, cursor, 'COUNT', batch)
  local members, n, fixed = {}, 0, 0
  for i = 1, #r[2], 2 do
    n = n + 1
    members[n] = r[2][i]
  end
  if n > 0 then
    local recs = redis.call('HMGET', old_key, unpack(members))
    for j = 1, n do
      if not recs[j] then fixed = fixed + redis.call('ZREM', key, members[j]) end
    end
  end
  return {r[1], n, fixed}
end
if step == 'finish' then
  redis.call('UNLINK', old_key)
  if redis.call('EXISTS', meta_key) == 1 then
    redis.call('HSET', meta_key, 'schema', '2', 'count',
               string.format('%d', redis.call('ZCARD', login_key)))
  end
  return 1
end
return redis.error_reply('unknown migration step ' .. step)
)lua";

#undef RELAYSYNC_FENCE

}  // namespace

const std::string& ScriptText(Script script) {
  static const std::string* const texts = new std::string[kScriptCount]{
      std::string(kPrelude) + kInfoBody,
      std::string(kPrelude) + kMutationPrelude + kMergeBody,
      std::string(kPrelude) + kMutationPrelude + kPutBody,
      std::string(kPrelude) + kMutationPrelude + kDeleteBody,
      std::string(kPrelude) + kMutationPrelude + kExpireBody,
      kMigrateScript,
  };
  return texts[static_cast<int>(script)];
}

}  // namespace relaysync::redis
