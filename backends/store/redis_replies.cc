#include "backends/store/redis_replies.h"

#include <hiredis/hiredis.h>

#include <iterator>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/store/redis_connection.h"

namespace relaysync::redis {
namespace {

bool ParseU64(const redisReply* reply, uint64_t* value) {
  int64_t v;
  if (!ReplyInt(reply, &v) || v < 0) return false;
  *value = static_cast<uint64_t>(v);
  return true;
}

bool IsString(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_STRING;
}

// Changes first, first + 1, ... packed as the scripts pack them:
// space-separated addresses and ticks, one 0/1 per change. Appends them to
// `out`, or returns false and leaves it alone.
bool UnpackChanges(uint64_t first, absl::string_view addresses,
                   absl::string_view ticks, absl::string_view removed,
                   std::vector<StateChange>* out) {
  if (removed.empty()) return addresses.empty() && ticks.empty();
  std::vector<absl::string_view> a = absl::StrSplit(addresses, ' ');
  std::vector<absl::string_view> t = absl::StrSplit(ticks, ' ');
  if (a.size() != removed.size() || t.size() != removed.size()) return false;
  std::vector<StateChange> changes(removed.size());
  for (size_t i = 0; i < removed.size(); ++i) {
    StateChange& c = changes[i];
    c.version = first + i;
    c.address = std::string(a[i]);
    if (c.address.empty() || !absl::SimpleAtoi(t[i], &c.ticks) ||
        (removed[i] != '0' && removed[i] != '1')) {
      return false;
    }
    c.removed = removed[i] == '1';
  }
  out->insert(out->end(), std::make_move_iterator(changes.begin()),
              std::make_move_iterator(changes.end()));
  return true;
}

}  // namespace

bool ParseInfo(const redisReply* reply, Info* info) {
  if (ReplyArraySize(reply) != 3 || !IsString(ReplyElement(reply, 0))) {
    return false;
  }
  info->epoch = ReplyText(ReplyElement(reply, 0));
  return !info->epoch.empty() &&
         ParseU64(ReplyElement(reply, 1), &info->version) &&
         ReplyInt(ReplyElement(reply, 2), &info->count);
}

absl::StatusOr<MutationResult> ParseMutation(const redisReply* reply,
                                             std::string* epoch) {
  const redisReply* missing = ReplyElement(reply, 5);
  uint64_t first = 0;
  MutationResult result;
  if (ReplyArraySize(reply) != 6 || !IsString(ReplyElement(reply, 0)) ||
      !ParseU64(ReplyElement(reply, 1), &first) ||
      missing->type != REDIS_REPLY_ARRAY ||
      !UnpackChanges(first, ReplyText(ReplyElement(reply, 2)),
                     ReplyText(ReplyElement(reply, 3)),
                     ReplyText(ReplyElement(reply, 4)), &result.changes)) {
    return absl::InternalError("unexpected script reply");
  }
  *epoch = ReplyText(ReplyElement(reply, 0));
  for (size_t i = 0; i < missing->elements; ++i) {
    result.missing.push_back(ReplyText(missing->element[i]));
  }
  return result;
}

bool ParseScore(absl::string_view score, int64_t* value) {
  if (absl::SimpleAtoi(score, value)) return true;
  // Another formatting of an integral double ("1.7e+09"), to be safe.
  double d;
  if (!absl::SimpleAtod(score, &d) || !(d >= -9007199254740992.0) ||
      !(d <= 9007199254740992.0) ||
      d != static_cast<double>(static_cast<int64_t>(d))) {
    return false;
  }
  *value = static_cast<int64_t>(d);
  return true;
}

std::string PackAttribution(const Attribution& who) {
  return absl::StrCat(who.host.size(), ":", who.host, who.user);
}

std::string WhoValue(int64_t login_time, const Attribution& who) {
  return absl::StrCat(login_time, ":", who.host.size(), ":", who.host,
                      who.user);
}

bool ParseAttribution(absl::string_view value, int64_t* login_time,
                      Attribution* who) {
  const size_t colon = value.find(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(value.substr(0, colon), login_time)) {
    return false;
  }
  absl::string_view packed = value.substr(colon + 1);
  const size_t end = packed.find(':');
  size_t host_size = 0;
  // Digits only: SimpleAtoi would also take a sign or spaces.
  if (end == absl::string_view::npos || end == 0 || end > 3 ||
      packed.substr(0, end).find_first_not_of("0123456789") !=
          absl::string_view::npos ||
      !absl::SimpleAtoi(packed.substr(0, end), &host_size)) {
    return false;
  }
  packed.remove_prefix(end + 1);
  if (host_size > kMaxAttributionField || host_size > packed.size() ||
      packed.size() - host_size > kMaxAttributionField) {
    return false;
  }
  who->host = std::string(packed.substr(0, host_size));
  who->user = std::string(packed.substr(host_size));
  return true;
}

bool ParseLogEntry(const redisReply* entry, std::vector<StateChange>* out) {
  const std::string id = ReplyText(ReplyElement(entry, 0));
  const size_t dash = id.find('-');
  uint64_t last = 0;
  if (dash == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(id).substr(0, dash), &last)) {
    return false;
  }
  const redisReply* fields = ReplyElement(entry, 1);
  uint64_t first = 0;
  std::string addresses, ticks, removed;
  bool have_first = false;
  for (size_t i = 0; i + 1 < ReplyArraySize(fields); i += 2) {
    const std::string field = ReplyText(ReplyElement(fields, i));
    std::string value = ReplyText(ReplyElement(fields, i + 1));
    if (field == "v") {
      have_first = absl::SimpleAtoi(value, &first);
    } else if (field == "a") {
      addresses = std::move(value);
    } else if (field == "t") {
      ticks = std::move(value);
    } else if (field == "r") {
      removed = std::move(value);
    }
  }
  if (!have_first && removed.size() == 1) {
    // Written before entries grouped changes: one change, no "v".
    first = last;
    have_first = true;
  }
  return have_first && first > 0 && !removed.empty() && last >= first &&
         last - first + 1 == removed.size() &&
         UnpackChanges(first, addresses, ticks, removed, out);
}

}  // namespace relaysync::redis
