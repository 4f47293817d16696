#include "agent/map_outputs.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/map_trouble.h"
#include "common/logging.h"

namespace relaysync {
namespace {

using SteadyClock = std::chrono::steady_clock;

// `key` (canonical) as a map in `style` stores it.
std::string StoredKey(const std::string& key, KeyStyle style) {
  absl::StatusOr<Address> a = Address::Parse(key);
  return a.ok() ? a->ToKey(style) : key;
}

// A key read from a map in `style`: canonical if it is an address spelled
// as that map spells it, else as stored (the materializer removes it).
std::string CanonicalKey(const std::string& stored, KeyStyle style) {
  absl::StatusOr<Address> a = Address::ParseKey(stored);
  return a.ok() && a->ToKey(style) == stored ? a->ToString() : stored;
}

MapBatch InStyle(const MapBatch& batch, KeyStyle style) {
  MapBatch out;
  for (const MapBatch::Op& op : batch.ops()) {
    std::string key = StoredKey(op.key, style);
    int64_t ticks = 0;
    if (!op.is_put) {
      out.Delete(std::move(key));
    } else if (absl::SimpleAtoi(op.value, &ticks)) {
      out.Put(std::move(key), ticks);
    }
  }
  return out;
}

}  // namespace

MapOutputs::Slot::Slot(Output o, absl::Duration retry_min,
                       absl::Duration retry_max)
    : out(std::move(o)), backoff(retry_min, retry_max) {}

MapOutputs::MapOutputs(std::vector<Output> outputs, absl::Duration retry_min,
                       absl::Duration retry_max) {
  absl::MutexLock l(&mu_);
  for (Output& o : outputs) {
    slots_.push_back(
        std::make_unique<Slot>(std::move(o), retry_min, retry_max));
  }
}

absl::StatusOr<std::vector<MapEntry>> MapOutputs::ReadAll() {
  absl::MutexLock l(&mu_);
  return ReadAllLocked();
}

absl::StatusOr<std::vector<MapEntry>> MapOutputs::ReadAllLocked() {
  absl::Status first_failure;
  for (const std::unique_ptr<Slot>& slot : slots_) {
    absl::StatusOr<std::vector<MapEntry>> entries = slot->out.map->ReadAll();
    if (!entries.ok()) {
      RecordLocked(slot.get(), entries.status());
      if (first_failure.ok()) first_failure = entries.status();
      continue;
    }
    content_.clear();
    for (MapEntry& e : *entries) {
      e.key = CanonicalKey(e.key, slot->out.key_style);
      int64_t ticks = 0;
      if (absl::SimpleAtoi(e.value, &ticks)) content_[e.key] = ticks;
    }
    loaded_ = true;
    // Every map, this one too (its odd spellings), is compared with the
    // new content at the next write; a failing one keeps its retry time.
    for (const std::unique_ptr<Slot>& other : slots_) other->current = false;
    return std::move(*entries);
  }
  return first_failure;
}

absl::StatusOr<ApplyResult> MapOutputs::Apply(const MapBatch& batch) {
  absl::MutexLock l(&mu_);
  return ApplyLocked(batch);
}

absl::StatusOr<ApplyResult> MapOutputs::ApplyLocked(const MapBatch& batch) {
  if (!loaded_) {
    absl::StatusOr<std::vector<MapEntry>> read = ReadAllLocked();
    if (!read.ok()) return read.status();
  }
  ApplyResult result;
  for (const MapBatch::Op& op : batch.ops()) {
    int64_t ticks = 0;
    if (op.is_put && absl::SimpleAtoi(op.value, &ticks)) {
      content_[op.key] = ticks;
      ++result.written;
    } else if (!op.is_put && content_.erase(op.key) > 0) {
      ++result.written;
    } else if (!op.is_put) {
      result.missing.push_back(op.key);
    }
  }
  absl::Status failure;
  bool any_current = false;
  for (const std::unique_ptr<Slot>& slot : slots_) {
    if (!slot->current) continue;  // CatchUpLocked below
    absl::StatusOr<ApplyResult> applied =
        slot->out.map->Apply(InStyle(batch, slot->out.key_style));
    const absl::Status s = applied.status();
    if (applied.ok()) {
      result.longest_lock_wait =
          std::max(result.longest_lock_wait, applied->longest_lock_wait);
      result.longest_lock_hold =
          std::max(result.longest_lock_hold, applied->longest_lock_hold);
    }
    RecordLocked(slot.get(), s);
    if (s.ok()) {
      any_current = true;
    } else if (failure.ok()) {
      failure = s;
    }
  }
  absl::Status behind;
  if (CatchUpLocked(&behind)) any_current = true;
  if (failure.ok()) failure = behind;
  if (!any_current) return failure;
  return result;
}

bool MapOutputs::CatchUpLocked(absl::Status* failure) {
  bool any_current = false;
  const SteadyClock::time_point now = SteadyClock::now();
  for (const std::unique_ptr<Slot>& slot : slots_) {
    if (!slot->current && (slot->failures == 0 || now >= slot->retry_at)) {
      RecordLocked(slot.get(), RebuildLocked(slot.get()));
    }
    if (slot->current) {
      any_current = true;
    } else if (failure->ok()) {
      *failure = slot->failure;
    }
  }
  return any_current;
}

absl::Status MapOutputs::RebuildLocked(Slot* slot) {
  absl::StatusOr<std::vector<MapEntry>> held = slot->out.map->ReadAll();
  if (!held.ok()) return held.status();
  std::unordered_map<std::string, int64_t> want;
  want.reserve(content_.size());
  for (const auto& [key, ticks] : content_) {
    want.emplace(StoredKey(key, slot->out.key_style), ticks);
  }
  MapBatch batch;
  for (const MapEntry& e : *held) {
    auto it = want.find(e.key);
    if (it == want.end()) {
      batch.Delete(e.key);
      continue;
    }
    if (e.value != absl::StrCat(it->second)) batch.Put(e.key, it->second);
    want.erase(it);
  }
  for (auto& [key, ticks] : want) batch.Put(key, ticks);
  if (batch.empty()) return absl::OkStatus();
  return slot->out.map->Apply(batch).status();
}

void MapOutputs::RecordLocked(Slot* slot, const absl::Status& s) {
  if (s.ok()) {
    if (slot->failures > 0) {
      LogInfo("relay map ", slot->out.name, ": writable again after ",
              slot->failures, " attempt(s): rebuilt it whole");
    }
    slot->current = true;
    slot->failures = 0;
    slot->failure = absl::OkStatus();
    slot->backoff.Reset();
    return;
  }
  slot->current = false;
  ++slot->failures;
  slot->failure = s;
  const absl::Duration wait = slot->backoff.Next();
  slot->retry_at = SteadyClock::now() + absl::ToChronoNanoseconds(wait);
  slot->trouble.Log(
      LogLevel::kError,
      absl::StrCat("relay map ", slot->out.name, ": ", s.message(), ": ",
                   MapFix(s),
                   "; meanwhile the other maps stay current, and this one "
                   "is rebuilt whole once it can be written, retrying at "
                   "least every ",
                   absl::FormatDuration(slot->backoff.max())));
}

absl::StatusOr<std::vector<MapEntry>> MapOutputs::RemoveAtOrBefore(
    int64_t cutoff) {
  absl::MutexLock l(&mu_);
  if (!loaded_) {
    absl::StatusOr<std::vector<MapEntry>> read = ReadAllLocked();
    if (!read.ok()) return read.status();
  }
  MapBatch batch;
  std::vector<MapEntry> removed;
  for (const auto& [key, ticks] : content_) {
    if (ticks > cutoff) continue;
    batch.Delete(key);
    removed.push_back(MapEntry{key, absl::StrCat(ticks)});
  }
  absl::StatusOr<ApplyResult> r = ApplyLocked(batch);
  if (!r.ok()) return r.status();
  return removed;
}

absl::Status MapOutputs::SignalWrites() {
  absl::MutexLock l(&mu_);
  absl::Status failure;
  for (const std::unique_ptr<Slot>& slot : slots_) {
    if (!slot->current) continue;
    absl::Status s = slot->out.map->SignalWrites();
    if (!s.ok()) RecordLocked(slot.get(), s);
  }
  if (!loaded_) return absl::OkStatus();  // nothing to catch up with yet
  if (CatchUpLocked(&failure)) return absl::OkStatus();
  return failure;
}

std::vector<std::string> MapOutputs::Behind() const {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const std::unique_ptr<Slot>& slot : slots_) {
    if (!slot->current) out.push_back(slot->out.name);
  }
  return out;
}

}  // namespace relaysync
