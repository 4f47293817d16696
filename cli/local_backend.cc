#include "cli/local_backend.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace relaysync {
namespace {

class LocalBackend : public RelayBackend {
 public:
  LocalBackend(std::unique_ptr<RelayersDb> db, KeyStyle key_style,
               const Clock* clock)
      : db_(std::move(db)), key_style_(key_style), clock_(clock) {}

  absl::Status Add(const Address& address,
                   std::optional<int64_t> ticks) override {
    MapBatch batch;
    batch.Put(address.ToKey(key_style_), ticks.value_or(clock_->NowSeconds()));
    return db_->Apply(batch).status();
  }

  absl::StatusOr<std::vector<std::string>> Delete(
      const std::vector<Address>& addresses) override {
    MapBatch batch;
    for (const Address& a : addresses) batch.Delete(a.ToKey(key_style_));
    absl::StatusOr<ApplyResult> result = db_->Apply(batch);
    if (!result.ok()) return result.status();
    return std::move(result->missing);
  }

  absl::StatusOr<int64_t> Expire(int64_t cutoff) override {
    absl::StatusOr<std::vector<MapEntry>> removed =
        db_->RemoveAtOrBefore(cutoff);
    if (!removed.ok()) return removed.status();
    return static_cast<int64_t>(removed->size());
  }

  absl::StatusOr<std::vector<MapEntry>> List() override {
    return db_->ReadAll();
  }

  absl::StatusOr<std::string> Describe() override {
    absl::StatusOr<std::vector<MapEntry>> all = db_->ReadAll();
    if (!all.ok()) return all.status();
    return absl::StrCat("map: ", db_->path(), "\nentries: ", all->size(), "\n");
  }

 private:
  std::unique_ptr<RelayersDb> db_;
  const KeyStyle key_style_;
  const Clock* const clock_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RelayBackend>> OpenLocalBackend(
    const std::string& path, bool writable, KeyStyle key_style,
    const MapOptions& options, const Clock* clock) {
  absl::StatusOr<std::unique_ptr<RelayersDb>> db = RelayersDb::Open(
      path,
      writable ? RelayersDb::Mode::kReadWrite : RelayersDb::Mode::kReadOnly,
      options);
  if (!db.ok()) return db.status();
  return std::unique_ptr<RelayBackend>(
      new LocalBackend(std::move(*db), key_style, clock));
}

}  // namespace relaysync
