// The scripts are a shared prelude plus one body each. Lua numbers are
// doubles: times (|t| < 2^53, checked by RedisStore) and versions compare
// exactly, but are never formatted by Lua's tostring (14 digits); values
// written back are the caller's own strings or fmt() (%d, exact).
#include "backends/store/redis_scripts.h"

namespace relaysync::redis {
namespace {

// Keys, and the meta hash. A missing one means a new or wiped namespace,
// so a new epoch starts at version 0. Records left without it (a partial
// flush) are kept and counted; the old epoch's change log is dropped.
// ARGV[3] is the server's identity (RedisStore::SetMaster): the master
// Sentinel named, and/or the run_id of a Redis that does not fsync every
// write ("" for a durable standalone Redis). When it differs from the one
// recorded, a failover or a lossy restart may have dropped the newest
// changes, so their versions could be reused: a new epoch starts, versions
// go on.
constexpr char kPrelude[] = R"lua(
local rec_key, login_key, delete_key, log_key, meta_key, who_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local master = ARGV[3]
local function fmt(n) return string.format('%d', n) end
local epoch = redis.call('HGET', meta_key, 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', log_key)
  redis.call('HSET', meta_key, 'epoch', epoch, 'version', '0',
             'count', fmt(redis.call('ZCARD', login_key)), 'master', master)
elseif master ~= '' and redis.call('HGET', meta_key, 'master') ~= master then
  epoch = ARGV[1]
  redis.call('HSET', meta_key, 'epoch', epoch, 'master', master)
end
)lua";

constexpr char kInfoBody[] = R"lua(
return {epoch, redis.call('HGET', meta_key, 'version'),
        redis.call('HGET', meta_key, 'count')}
)lua";

// Record access and the change log, shared by the mutations. A record's
// attribution lives apart, in who_key, as "<login_time>:" and the packed
// attribution of the login or add that set that login time: snapshots
// never read it, and one whose time is not the record's (left by a
// relaysync that kept none) counts as unknown. save() is the one place a
// record is written (as EmbeddedStore's Txn::Write; kMergeBody
// applies the same rules but batches the writes, see there): it moves
// the record's index entry (by_login while present, by_delete as a
// tombstone), keeps the present count and gives each visible change the
// next version. finish() appends the call's changes to the log as one
// entry (one XADD per call, not per change: on a batch of logins that was
// a tenth of Redis's time) under the ID "<last version>-1", with fields
// v (first version), a (addresses), t (ticks) and r (one 0/1 per change).
constexpr char kMutationPrelude[] = R"lua(
local limit = tonumber(ARGV[2])
local version = tonumber(redis.call('HGET', meta_key, 'version'))
local count = tonumber(redis.call('HGET', meta_key, 'count'))
local first_version = version + 1
local log_a, log_t, log_r = {}, {}, {}

local function emit(addr, ticks, removed)
  version = version + 1
  log_a[version - first_version + 1] = addr
  log_t[version - first_version + 1] = ticks
  log_r[version - first_version + 1] = removed
end

-- exists, login_time, delete_time (strings) of a record's stored value
-- ("<login>:<delete>", or false/nil if absent); an unknown address is
-- {0, 0}.
local function parse(v)
  if not v then return false, '0', '0' end
  local i = string.find(v, ':', 1, true)
  return true, string.sub(v, 1, i - 1), string.sub(v, i + 1)
end

local function load(addr) return parse(redis.call('HGET', rec_key, addr)) end

local function present(l, d) return tonumber(l) > tonumber(d) end

local function save(addr, existed, old_l, old_d, l, d)
  local was = existed and present(old_l, old_d)
  local is = present(l, d)
  redis.call('HSET', rec_key, addr, l .. ':' .. d)
  if is then
    if not was then
      if existed then redis.call('ZREM', delete_key, addr) end
      count = count + 1
    end
    if not was or tonumber(l) ~= tonumber(old_l) then
      redis.call('ZADD', login_key, l, addr)
      emit(addr, l, '0')
    end
  else
    if was then
      redis.call('ZREM', login_key, addr)
      count = count - 1
      emit(addr, '0', '1')
    end
    redis.call('ZADD', delete_key, d, addr)
  end
end

-- Replies {epoch, first version, addresses, ticks, removed flags,
-- missing}, the changes packed as in the log entry.
local function finish(missing)
  local a, t, r =
    table.concat(log_a, ' '), table.concat(log_t, ' '), table.concat(log_r)
  if version >= first_version then
    redis.call('XADD', log_key, fmt(version) .. '-1', 'v', fmt(first_version),
               'a', a, 't', t, 'r', r)
    -- Keeps every entry holding one of the last `limit` versions.
    local keep_from = version - limit + 1
    if keep_from > 1 then
      redis.call('XTRIM', log_key, 'MINID', fmt(keep_from))
    end
    redis.call('HSET', meta_key, 'version', fmt(version), 'count', fmt(count))
  end
  return {epoch, fmt(first_version), a, t, r, missing}
end
)lua";

// RelayRecord::MergeLogin: the larger time wins. This is the hot path (one
// call per group-committed batch of logins) and Redis's main thread is
// what limits ingest; each redis.call has a fixed cost (Lua glue, command
// dispatch, one more command in the AOF and replication stream) besides
// its own work. So rather than load()/save() per login (HGET, HSET, ZADD
// each) it:
//   1. reads the records of the batch's distinct addresses with HMGET;
//   2. folds the logins in ARGV order over those values in Lua, with
//      save()'s rules: each login that raises an address's login time,
//      including a later one for an address already raised in this batch,
//      still gets its own change and version, exactly as before;
//   3. writes each touched record's final value and index entries once,
//      with one multi-field HSET and multi-member ZADD/ZREM.
// The end state (records, by_login, by_delete, meta, log) is the same as
// save() per login would leave: only the last write of a field or member
// survives anyway, and the script is atomic.
// A merge only raises login times, never delete times, so a record can
// only become present, never stop being present: nothing leaves by_login.
constexpr char kMergeBody[] = R"lua(
-- redis.call(cmd, key, list...) in slices: Lua's unpack() can push only
-- ~8,000 values (LUAI_MAXCSTACK). 4,000 is even: pairs stay together.
local function call_list(cmd, key, list)
  local out = {}
  for i = 1, #list, 4000 do
    local r = redis.call(cmd, key, unpack(list, i, math.min(i + 3999, #list)))
    if type(r) == 'table' then
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

-- 1. The distinct addresses (first-seen order) and their stored records.
local addrs, slot = {}, {}
for i = 4, #ARGV, 3 do
  local addr = ARGV[i]
  if not slot[addr] then
    addrs[#addrs + 1] = addr
    slot[addr] = #addrs
  end
end
-- HMGET's reply, in order: the value, or false for a missing field.
local stored = call_list('HMGET', rec_key, addrs)
-- Per slot: as stored (old_*), and as folded so far (exists, l). The
-- times are also kept as numbers (*_n): tonumber() once per address, not
-- per comparison.
local old_exists, old_l, old_d, exists, cur_l = {}, {}, {}, {}, {}
local d_n, cur_n = {}, {}
for k = 1, #addrs do
  old_exists[k], old_l[k], old_d[k] = parse(stored[k])
  exists[k], cur_l[k] = old_exists[k], old_l[k]
  d_n[k], cur_n[k] = tonumber(old_d[k]), tonumber(old_l[k])
end

-- 2. The fold: save(addr, exists, l, d, t, d)'s count and change rules
-- (present = login > delete). The attribution follows the login time: the
-- first of equal times keeps it.
local touched, dirty, cur_who = {}, {}, {}
for i = 4, #ARGV, 3 do
  local addr, t = ARGV[i], ARGV[i + 1]
  local k = slot[addr]
  local t_n, l_n, d_n_k = tonumber(t), cur_n[k], d_n[k]
  if t_n > l_n then
    if t_n > d_n_k then
      if not (exists[k] and l_n > d_n_k) then count = count + 1 end
      emit(addr, t, '0')  -- t > l: the login time always changes
    end
    if not dirty[k] then
      dirty[k] = true
      touched[#touched + 1] = k
    end
    exists[k], cur_l[k], cur_n[k] = true, t, t_n
    cur_who[k] = ARGV[i + 2]
  end
end

-- 3. Write back each touched record's final state once.
local recs, whos, logins, undeleted, deleted = {}, {}, {}, {}, {}
for _, k in ipairs(touched) do
  local addr, l, d = addrs[k], cur_l[k], old_d[k]
  recs[#recs + 1] = addr
  recs[#recs + 1] = l .. ':' .. d
  whos[#whos + 1] = addr
  whos[#whos + 1] = l .. ':' .. cur_who[k]
  if cur_n[k] > d_n[k] then
    logins[#logins + 1] = l
    logins[#logins + 1] = addr
    -- A tombstone came back: it leaves by_delete.
    if old_exists[k] and not present(old_l[k], d) then
      undeleted[#undeleted + 1] = addr
    end
  else
    -- Still a tombstone (a login older than its delete time): save()
    -- re-adds it to by_delete with the same score.
    deleted[#deleted + 1] = d
    deleted[#deleted + 1] = addr
  end
end
if #recs > 0 then
  call_list('HSET', rec_key, recs)
  call_list('HSET', who_key, whos)
end
if #logins > 0 then call_list('ZADD', login_key, logins) end
if #undeleted > 0 then call_list('ZREM', delete_key, undeleted) end
if #deleted > 0 then call_list('ZADD', delete_key, deleted) end
return finish({})
)lua";

// RelayRecord::Put: login = ticks, delete = min(delete, ticks - 1), and
// the admin's attribution.
constexpr char kPutBody[] = R"lua(
local addr, ticks, below, who = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local existed, l, d = load(addr)
local new_d = d
if tonumber(below) < tonumber(d) then new_d = below end
save(addr, existed, l, d, ticks, new_d)
redis.call('HSET', who_key, addr, ticks .. ':' .. who)
return finish({})
)lua";

// RelayRecord::Delete: delete = max(delete, now, login); an address that
// was not present is reported, and its delete time recorded all the same.
constexpr char kDeleteBody[] = R"lua(
local now = ARGV[4]
local missing = {}
for i = 5, #ARGV do
  local addr = ARGV[i]
  local existed, l, d = load(addr)
  if not (existed and present(l, d)) then missing[#missing + 1] = addr end
  local new_d = d
  if tonumber(now) > tonumber(new_d) then new_d = now end
  if tonumber(l) > tonumber(new_d) then new_d = l end
  save(addr, existed, l, d, l, new_d)
end
return finish(missing)
)lua";

// RelayRecord::Expire on the due end of by_login (delete = login, or erased
// at once when that is <= forget_before), then forgets the due end of
// by_delete. An index entry that disagrees with its record (only possible
// if something else wrote these keys) is corrected, never acted on.
constexpr char kExpireBody[] = R"lua(
local cutoff, forget_before = ARGV[4], ARGV[5]
local cut, forget = tonumber(cutoff), tonumber(forget_before)
local due = redis.call('ZRANGEBYSCORE', login_key, '-inf', cutoff)
local reindex = {}
for _, addr in ipairs(due) do
  local existed, l, d = load(addr)
  if existed and present(l, d) then
    if tonumber(l) > cut then
      reindex[#reindex + 1] = {l, addr}
    else
      if tonumber(l) <= forget then
        redis.call('HDEL', rec_key, addr)
        redis.call('HDEL', who_key, addr)
      else
        redis.call('HSET', rec_key, addr, l .. ':' .. l)
        redis.call('ZADD', delete_key, l, addr)
      end
      count = count - 1
      emit(addr, '0', '1')
    end
  end
end
if #due > 0 then
  redis.call('ZREMRANGEBYSCORE', login_key, '-inf', cutoff)
  for _, e in ipairs(reindex) do redis.call('ZADD', login_key, e[1], e[2]) end
end
reindex = {}
local old = redis.call('ZRANGEBYSCORE', delete_key, '-inf', forget_before)
for _, addr in ipairs(old) do
  local existed, l, d = load(addr)
  if existed and not present(l, d) then
    if tonumber(d) <= forget then
      redis.call('HDEL', rec_key, addr)
      redis.call('HDEL', who_key, addr)
    else
      reindex[#reindex + 1] = {d, addr}
    end
  end
end
if #old > 0 then
  redis.call('ZREMRANGEBYSCORE', delete_key, '-inf', forget_before)
  for _, e in ipairs(reindex) do redis.call('ZADD', delete_key, e[1], e[2]) end
end
return finish({})
)lua";

}  // namespace

const std::string& ScriptText(Script script) {
  static const std::string* const texts = new std::string[kScriptCount]{
      std::string(kPrelude) + kInfoBody,
      std::string(kPrelude) + kMutationPrelude + kMergeBody,
      std::string(kPrelude) + kMutationPrelude + kPutBody,
      std::string(kPrelude) + kMutationPrelude + kDeleteBody,
      std::string(kPrelude) + kMutationPrelude + kExpireBody,
  };
  return texts[static_cast<int>(script)];
}

}  // namespace relaysync::redis
