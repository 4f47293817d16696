#include "backends/redis_replies.h"

#include <hiredis/hiredis.h>

#include <iterator>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/redis_connection.h"

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
  const redisReply* changes = ReplyElement(reply, 2);
  const redisReply* missing = ReplyElement(reply, 3);
  uint64_t version = 0;
  if (ReplyArraySize(reply) != 4 || !IsString(ReplyElement(reply, 0)) ||
      !ParseU64(ReplyElement(reply, 1), &version) ||
      changes->type != REDIS_REPLY_ARRAY || changes->elements % 3 != 0 ||
      missing->type != REDIS_REPLY_ARRAY) {
    return absl::InternalError("unexpected script reply");
  }
  *epoch = ReplyText(ReplyElement(reply, 0));
  MutationResult result;
  result.changes.reserve(changes->elements / 3);
  for (size_t i = 0; i < changes->elements; i += 3, ++version) {
    StateChange c;
    c.version = version;
    c.address = ReplyText(changes->element[i]);
    const std::string removed = ReplyText(changes->element[i + 2]);
    if (!ReplyInt(changes->element[i + 1], &c.ticks) ||
        (removed != "0" && removed != "1")) {
      return absl::InternalError(
          absl::StrCat("unexpected change in script reply for ", c.address));
    }
    c.removed = removed == "1";
    result.changes.push_back(std::move(c));
  }
  for (size_t i = 0; i < missing->elements; ++i) {
    result.missing.push_back(ReplyText(missing->element[i]));
  }
  return result;
}

bool ParseRecord(absl::string_view value, int64_t* login_time,
                 int64_t* delete_time) {
  const size_t colon = value.find(':');
  return colon != absl::string_view::npos &&
         absl::SimpleAtoi(value.substr(0, colon), login_time) &&
         absl::SimpleAtoi(value.substr(colon + 1), delete_time);
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
  std::vector<absl::string_view> a = absl::StrSplit(addresses, ' ');
  std::vector<absl::string_view> t = absl::StrSplit(ticks, ' ');
  if (!have_first || first == 0 || last < first ||
      last - first + 1 != removed.size() || a.size() != removed.size() ||
      t.size() != removed.size()) {
    return false;
  }
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

}  // namespace relaysync::redis
