#include "coordinator/metered_store.h"

#include <utility>

#include "absl/strings/ascii.h"

namespace relaysync {

MeteredStore::MeteredStore(std::unique_ptr<Store> store,
                           metrics::Registry* registry)
    : store_(std::move(store)),
      registry_(registry),
      up_(registry->AddGauge(
          "relaysync_coordinator_store_up",
          "1 when the last call to the store reached it, 0 when it was "
          "unavailable.")) {
  up_.Set(1);
}

void MeteredStore::Count(const char* op, const absl::Status& s) {
  if (s.ok() || absl::IsOutOfRange(s)) {
    up_.Set(1);
    return;
  }
  if (absl::IsUnavailable(s)) up_.Set(0);
  // The error path only: a lookup in the registry is fine here.
  registry_
      ->AddCounter(
          "relaysync_coordinator_store_errors_total",
          "Failed store calls, by operation and kind (the status "
          "code: unavailable, data_loss, internal, ...).",
          {{"op", op},
           {"kind", absl::AsciiStrToLower(absl::StatusCodeToString(s.code()))}})
      .Increment();
}

absl::StatusOr<MutationResult> MeteredStore::MergeLogins(
    const std::vector<Login>& logins, int64_t not_after) {
  absl::StatusOr<MutationResult> r = store_->MergeLogins(logins, not_after);
  Count("merge", r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Put(const std::string& address,
                                                 int64_t ticks,
                                                 const Attribution& who) {
  absl::StatusOr<MutationResult> r = store_->Put(address, ticks, who);
  Count("put", r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Delete(
    const std::vector<std::string>& addresses, int64_t now) {
  absl::StatusOr<MutationResult> r = store_->Delete(addresses, now);
  Count("delete", r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Expire(int64_t cutoff,
                                                    int64_t forget_before) {
  absl::StatusOr<MutationResult> r = store_->Expire(cutoff, forget_before);
  Count("expire", r.status());
  return r;
}

absl::StatusOr<Snapshot> MeteredStore::ReadSnapshot() {
  absl::StatusOr<Snapshot> r = store_->ReadSnapshot();
  Count("snapshot", r.status());
  return r;
}

absl::StatusOr<std::vector<AttributedEntry>> MeteredStore::ReadAttributed() {
  absl::StatusOr<std::vector<AttributedEntry>> r = store_->ReadAttributed();
  Count("read_attributed", r.status());
  return r;
}

absl::StatusOr<std::vector<StateChange>> MeteredStore::ChangesSince(
    uint64_t since, size_t limit) {
  absl::StatusOr<std::vector<StateChange>> r =
      store_->ChangesSince(since, limit);
  Count("changes_since", r.status());
  return r;
}

absl::StatusOr<uint64_t> MeteredStore::Version() {
  absl::StatusOr<uint64_t> r = store_->Version();
  Count("version", r.status());
  return r;
}

absl::StatusOr<int64_t> MeteredStore::EntryCount() {
  absl::StatusOr<int64_t> r = store_->EntryCount();
  Count("entry_count", r.status());
  return r;
}

absl::StatusOr<int64_t> MeteredStore::CountLaterThan(int64_t ticks) {
  absl::StatusOr<int64_t> r = store_->CountLaterThan(ticks);
  Count("count_later", r.status());
  return r;
}

absl::StatusOr<uint64_t> MeteredStore::WaitForChange(uint64_t since,
                                                     absl::Duration timeout) {
  absl::StatusOr<uint64_t> r = store_->WaitForChange(since, timeout);
  Count("wait_for_change", r.status());
  return r;
}

}  // namespace relaysync
