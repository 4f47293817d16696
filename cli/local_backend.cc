#include "cli/local_backend.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace relaysync {
namespace {

class LocalBackend : public RelayBackend {
 public:
  LocalBackend(std::string path, std::unique_ptr<MapWriter> db,
               KeyStyle key_style, const Clock* clock)
      : path_(std::move(path)),
        db_(std::move(db)),
        key_style_(key_style),
        clock_(clock) {}

  // Writes the key in `key_style_` and removes the address's other
  // spellings, so that the address has one entry, as the agent keeps it.
  absl::Status Add(const Address& address,
                   std::optional<int64_t> ticks) override {
    std::vector<std::string> keys = address.KeySpellings(key_style_);
    MapBatch batch;
    for (size_t i = 1; i < keys.size(); ++i) batch.Delete(keys[i]);
    batch.Put(keys[0], ticks.value_or(clock_->NowSeconds()));
    return db_->Apply(batch).status();
  }

  // Removes every spelling of each address (a map may hold keys of either
  // style, even both); an address is missing when none was there.
  absl::StatusOr<std::vector<std::string>> Delete(
      const std::vector<Address>& addresses) override {
    MapBatch batch;
    std::set<std::string> keys;
    for (const Address& a : addresses) {
      for (std::string& k : a.KeySpellings(key_style_)) {
        if (keys.insert(k).second) batch.Delete(std::move(k));
      }
    }
    absl::StatusOr<ApplyResult> result = db_->Apply(batch);
    if (!result.ok()) return result.status();
    const std::set<std::string> absent(result->missing.begin(),
                                       result->missing.end());
    std::vector<std::string> missing;
    std::set<std::string> removed;
    for (const Address& a : addresses) {
      bool found = false;
      for (const std::string& k : a.KeySpellings(key_style_)) {
        found = found || absent.count(k) == 0;
      }
      // A repeated address was removed by its first mention.
      if (!found || !removed.insert(a.ToString()).second) {
        missing.push_back(a.ToString());
      }
    }
    return missing;
  }

  absl::StatusOr<int64_t> Expire(int64_t cutoff) override {
    absl::StatusOr<std::vector<MapEntry>> removed =
        db_->RemoveAtOrBefore(cutoff);
    if (!removed.ok()) return removed.status();
    return static_cast<int64_t>(removed->size());
  }

  absl::StatusOr<std::vector<ListedEntry>> List(bool attribution) override {
    if (attribution) {
      return absl::FailedPreconditionError(
          absl::StrCat(path_,
                       ": a local map keeps no attribution; ask the "
                       "coordinator (--coordinator)"));
    }
    absl::StatusOr<std::vector<MapEntry>> all = db_->ReadAll();
    if (!all.ok()) return all.status();
    std::vector<ListedEntry> out;
    out.reserve(all->size());
    for (MapEntry& e : *all) out.push_back({std::move(e), {}});
    return out;
  }

  absl::StatusOr<Description> Describe(const AgentLimits&) override {
    absl::StatusOr<std::vector<MapEntry>> all = db_->ReadAll();
    if (!all.ok()) return all.status();
    return Description{
        absl::StrCat("map: ", path_, "\nentries: ", all->size(), "\n")};
  }

 private:
  const std::string path_;
  std::unique_ptr<MapWriter> db_;
  const KeyStyle key_style_;
  const Clock* const clock_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RelayBackend>> OpenLocalBackend(
    const std::string& path, bool writable, MapKind kind, KeyStyle key_style,
    const MapOptions& options, const Clock* clock) {
  absl::StatusOr<std::unique_ptr<MapWriter>> db = OpenMap(
      kind, path,
      writable ? RelayersDb::Mode::kReadWrite : RelayersDb::Mode::kReadOnly,
      options);
  if (!db.ok()) return db.status();
  return std::unique_ptr<RelayBackend>(
      new LocalBackend(path, std::move(*db), key_style, clock));
}

}  // namespace relaysync
