#include "testing/login_load.h"

#include "absl/strings/str_cat.h"
#include "agent/local_login.h"
#include "agent/notify_drop_dir.h"
#include "backends/map/relayers_db.h"

namespace relaysync::testing {
namespace {

std::string AddressOf(int k, int64_t n) {
  return absl::StrCat("10.", 32 * k + ((n >> 16) & 31), ".", (n >> 8) & 255,
                      ".", n & 255);
}

}  // namespace

LoginLoad::LoginLoad(std::vector<Sender> senders)
    : senders_(std::move(senders)) {}

LoginLoad::~LoginLoad() { Stop(); }

void LoginLoad::Start(absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  for (size_t k = 0; k < senders_.size(); ++k) {
    threads_.emplace_back(
        [this, k, deadline] { Run(static_cast<int>(k), deadline); });
  }
}

void LoginLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void LoginLoad::Run(int k, absl::Time deadline) {
  const Sender& s = senders_[k];
  if (s.netns != nullptr) {
    if (absl::Status st = s.netns->EnterOnThisThread(); !st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      failed_++;
      if (first_error_.empty()) first_error_ = std::string(st.message());
      return;
    }
  }
  const std::string drop_dir = DefaultNotifyDropDir(s.socket);
  const absl::Time start = absl::Now();
  for (int64_t n = 0; n < (int64_t{1} << 21) && !stop_; ++n) {
    const absl::Time due = start + absl::Seconds(n / s.rate);
    if (due >= deadline) break;
    const absl::Time now = absl::Now();
    if (due > now) absl::SleepFor(due - now);
    LocalLogin login;
    login.address = AddressOf(k, n);
    login.user = "u";
    login.protocol = LocalLogin::Protocol::kImap;
    login.source = "load";
    // The notify command's default timeout.
    absl::Status st =
        NotifyDurably(s.socket, drop_dir, login, absl::Milliseconds(200));
    std::lock_guard<std::mutex> l(mu_);
    sent_.push_back(SentLogin{login.address, k, absl::Now(), st.ok()});
    if (!st.ok()) {
      failed_++;
      if (first_error_.empty()) first_error_ = std::string(st.message());
    }
  }
}

std::vector<SentLogin> LoginLoad::Sent() const {
  std::lock_guard<std::mutex> l(mu_);
  return sent_;
}

std::string LoginLoad::first_error() const {
  std::lock_guard<std::mutex> l(mu_);
  return first_error_;
}

void MapChecker::Expect(const std::string& key) {
  for (size_t i = 0; i < maps_.size(); ++i) missing_[i].insert(key);
}

void MapChecker::Forget(const std::string& key) {
  for (auto& [i, keys] : missing_) keys.erase(key);
}

size_t MapChecker::Check() {
  size_t total = 0;
  for (auto& [i, keys] : missing_) {
    if (keys.empty()) continue;
    auto db = RelayersDb::Open(maps_[i], RelayersDb::Mode::kReadOnly);
    if (db.ok()) {
      for (auto it = keys.begin(); it != keys.end();) {
        it = (*db)->Get(*it).ok() ? keys.erase(it) : std::next(it);
      }
    }
    total += keys.size();
  }
  return total;
}

std::vector<std::string> MapChecker::Sample(size_t n) const {
  std::vector<std::string> out;
  for (const auto& [i, keys] : missing_) {
    for (const std::string& k : keys) {
      if (out.size() == n) return out;
      out.push_back(absl::StrCat(k, " in ", maps_[i]));
    }
  }
  return out;
}

bool MapChecker::Has(size_t i, const std::string& key) const {
  auto db = RelayersDb::Open(maps_[i], RelayersDb::Mode::kReadOnly);
  return db.ok() && (*db)->Get(key).ok();
}

absl::Duration TimeToConverge(MapChecker* checker, absl::Duration timeout) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  while (checker->Check() > 0) {
    if (absl::Now() >= deadline) return timeout + absl::Nanoseconds(1);
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::Now() - start;
}

}  // namespace relaysync::testing
