// Decoding RedisStore's replies (script results, records, attributions,
// change-log entries) into Store types, and packing an attribution for the
// scripts. Shapes: backends/store/redis_scripts.h and docs/redis.md.
#ifndef RELAYSYNC_BACKENDS_STORE_REDIS_REPLIES_H_
#define RELAYSYNC_BACKENDS_STORE_REDIS_REPLIES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backends/store/store.h"

struct redisReply;

namespace relaysync::redis {

// The meta hash, as the info script returns it.
struct Info {
  std::string epoch;
  uint64_t version = 0;
  int64_t count = 0;
};

// {epoch, version, count}. False if the reply has another shape.
bool ParseInfo(const redisReply* reply, Info* info);

// {epoch, first_version, "address address ...", "ticks ticks ...",
// "0101..." (1 = removed), {missing...}}: the changes packed as in the
// change log.
// InternalError naming what is wrong.
absl::StatusOr<MutationResult> ParseMutation(const redisReply* reply,
                                             std::string* epoch);

// A sorted-set score as Redis replies it (a time: an integer below 2^53,
// "%.17g"). False if it is not an integer.
bool ParseScore(absl::string_view score, int64_t* value);

// An attribution as the scripts take it: "<host length>:<host><user>".
std::string PackAttribution(const Attribution& who);

// A who_key value as the scripts write it: "<login_time>:" and
// PackAttribution(who).
std::string WhoValue(int64_t login_time, const Attribution& who);

// A who_key value, "<login_time>:" and a packed attribution. False if it
// has another shape or a field over kMaxAttributionField bytes.
bool ParseAttribution(absl::string_view value, int64_t* login_time,
                      Attribution* who);

// A change-log entry, the changes of one mutation: ["<last version>-1",
// ["v", first version, "a", "addr addr ...", "t", "ticks ticks ...",
// "r", "0101..."]]. Appends them to `out`; false (and `out` unchanged) if
// the entry is malformed. An entry of an older relaysync, one change and
// no "v", is read too.
bool ParseLogEntry(const redisReply* entry, std::vector<StateChange>* out);

}  // namespace relaysync::redis

#endif  // RELAYSYNC_BACKENDS_STORE_REDIS_REPLIES_H_
