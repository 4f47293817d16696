#include "coordinator/metered_store.h"

#include <utility>

#include "absl/strings/ascii.h"

namespace relaysync {
namespace {

// The `kind` label: the status codes a store returns, and "other".
constexpr absl::StatusCode kKinds[] = {
    absl::StatusCode::kUnavailable,       absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kDataLoss,          absl::StatusCode::kInternal,
    absl::StatusCode::kResourceExhausted, absl::StatusCode::kFailedPrecondition,
    absl::StatusCode::kInvalidArgument,
};

}  // namespace

MeteredStore::MeteredStore(std::unique_ptr<Store> store,
                           metrics::Registry* registry)
    : store_(std::move(store)),
      up_(registry->AddGauge(
          "relaysync_coordinator_store_up",
          "1 when the last call to the store reached it, 0 when it was "
          "unavailable.")) {
  up_.Set(1);
  // Every series exists from the start, at 0, so that rate() sees the
  // first error.
  auto add = [registry](const std::string& kind) {
    return registry->AddCounter(
        "relaysync_coordinator_store_errors_total",
        "Failed store calls, by kind (the status code: unavailable, "
        "data_loss, internal, ...; other for the rest).",
        {{"kind", kind}});
  };
  for (absl::StatusCode code : kKinds) {
    errors_[code] = add(absl::AsciiStrToLower(absl::StatusCodeToString(code)));
  }
  other_errors_ = add("other");
}

void MeteredStore::Count(const absl::Status& s) {
  if (s.ok() || absl::IsOutOfRange(s)) {
    up_.Set(1);
    return;
  }
  if (absl::IsUnavailable(s)) up_.Set(0);
  auto it = errors_.find(s.code());
  (it != errors_.end() ? it->second : other_errors_).Increment();
}

absl::StatusOr<MutationResult> MeteredStore::MergeLogins(
    const std::vector<Login>& logins, int64_t not_after) {
  absl::StatusOr<MutationResult> r = store_->MergeLogins(logins, not_after);
  Count(r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Put(const std::string& address,
                                                 int64_t ticks,
                                                 const Attribution& who) {
  absl::StatusOr<MutationResult> r = store_->Put(address, ticks, who);
  Count(r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Delete(
    const std::vector<std::string>& addresses, int64_t now) {
  absl::StatusOr<MutationResult> r = store_->Delete(addresses, now);
  Count(r.status());
  return r;
}

absl::StatusOr<MutationResult> MeteredStore::Expire(int64_t cutoff,
                                                    int64_t forget_before) {
  absl::StatusOr<MutationResult> r = store_->Expire(cutoff, forget_before);
  Count(r.status());
  return r;
}

absl::StatusOr<Snapshot> MeteredStore::ReadSnapshot() {
  absl::StatusOr<Snapshot> r = store_->ReadSnapshot();
  Count(r.status());
  return r;
}

absl::StatusOr<std::vector<AttributedEntry>> MeteredStore::ReadAttributed() {
  absl::StatusOr<std::vector<AttributedEntry>> r = store_->ReadAttributed();
  Count(r.status());
  return r;
}

absl::StatusOr<std::vector<StateChange>> MeteredStore::ChangesSince(
    uint64_t since, size_t limit) {
  absl::StatusOr<std::vector<StateChange>> r =
      store_->ChangesSince(since, limit);
  Count(r.status());
  return r;
}

absl::StatusOr<uint64_t> MeteredStore::Version() {
  absl::StatusOr<uint64_t> r = store_->Version();
  Count(r.status());
  return r;
}

absl::StatusOr<int64_t> MeteredStore::EntryCount() {
  absl::StatusOr<int64_t> r = store_->EntryCount();
  Count(r.status());
  return r;
}

absl::StatusOr<int64_t> MeteredStore::CountLaterThan(int64_t ticks) {
  absl::StatusOr<int64_t> r = store_->CountLaterThan(ticks);
  Count(r.status());
  return r;
}

absl::StatusOr<uint64_t> MeteredStore::WaitForChange(uint64_t since,
                                                     absl::Duration timeout) {
  absl::StatusOr<uint64_t> r = store_->WaitForChange(since, timeout);
  Count(r.status());
  return r;
}

}  // namespace relaysync
