// Fuzz target: what the coordinator does with the bytes of one AgentMessage
// (proto/relaysync/v1/relaysync.proto) on a Sync stream: parse, the checks
// SyncStream runs (coordinator/sync_input.h), and for a login batch the
// merge through StateWriter into a real EmbeddedStore in a scratch
// directory, published to a ChangeHub by the ChangeFeed, as in the
// coordinator (one round at a time here, without its thread). Asserts: a
// hello is accepted exactly when its host id is 1-256 bytes; a batch is
// refused exactly when it has over 1000 events, and otherwise every event
// is either merged (canonical address, positive time, in order) or dropped,
// and every id is acknowledged; the merge succeeds, versions only grow, and
// every change it publishes is a present entry for an address of the batch
// whose ticks are the batch's latest (clock-clamped) time for it. Logins
// carry the event's user as SyncStream attributes them; now and then the
// attributions are read back: each changed address has the user of the
// first login at its new time.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/store/embedded_store.h"
#include "common/address.h"
#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/change_feed.h"
#include "coordinator/change_hub.h"
#include "coordinator/state_writer.h"
#include "coordinator/sync_input.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/relaysync/v1/limits.h"
#include "relaysync/v1/relaysync.pb.h"

namespace relaysync {
namespace {

// Expire everything now and then, so the store stays small and fast.
constexpr int kMergesPerExpiry = 2000;
// Read the attributions back after every this many merges (a full scan).
constexpr int kMergesPerAttributionCheck = 64;
constexpr char kHost[] = "fuzz-host";

struct Coordinator {
  FakeClock clock{absl::FromUnixSeconds(1795000000)};
  std::unique_ptr<EmbeddedStore> store;
  std::unique_ptr<ChangeHub> hub;
  std::unique_ptr<ChangeFeed> feed;
  std::unique_ptr<StateWriter> writer;
  int merges = 0;
};

Coordinator& TheCoordinator() {
  static Coordinator* c = [] {
    auto* c = new Coordinator;
    EmbeddedStoreOptions options;
    options.data_dir = fuzz::ScratchDir() + "/store";
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Open(options);
    FUZZ_CHECK(store.ok(), store.status().ToString());
    c->store = std::move(*store);
    absl::StatusOr<uint64_t> version = c->store->Version();
    FUZZ_CHECK(version.ok(), version.status().ToString());
    c->hub = std::make_unique<ChangeHub>(100000, c->store->Epoch(), *version);
    c->feed = std::make_unique<ChangeFeed>(c->store.get(), c->hub.get());
    c->writer = std::make_unique<StateWriter>(c->store.get(), &c->clock,
                                              StateWriterOptions());
    return c;
  }();
  return *c;
}

// What the ChangeFeed's thread does after a commit: the hub catches up with
// the store.
void CatchUp(Coordinator& c) {
  absl::StatusOr<uint64_t> version = c.store->Version();
  FUZZ_CHECK(version.ok(), version.status().ToString());
  while (c.hub->latest() < *version) {
    absl::Status s = c.feed->CatchUp();
    FUZZ_CHECK(s.ok(), s.ToString());
  }
}

void CheckHelloMessage(const v1::Hello& hello) {
  const size_t n = hello.host_id().size();
  FUZZ_CHECK(CheckHello(hello).ok() == (n >= 1 && n <= kMaxTextField),
             hello.host_id());
}

void CheckSplit(const v1::LoginBatch& batch, const CheckedLogins& checked) {
  const size_t n = static_cast<size_t>(batch.events_size());
  FUZZ_CHECK(checked.event_ids.size() == n, "ids");
  FUZZ_CHECK(checked.logins.size() + checked.dropped.size() == n, "split");
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    const v1::LoginEvent& e = batch.events(static_cast<int>(i));
    FUZZ_CHECK(checked.event_ids[i] == e.event_id(), "id order");
    absl::StatusOr<Address> a = Address::Parse(e.address());
    // The user and source never make an event invalid.
    bool valid =
        a.ok() && e.login_time() > 0 && e.event_id().size() <= kMaxTextField;
    if (!valid) continue;
    FUZZ_CHECK(next < checked.logins.size(), "valid event dropped");
    const Login& l = checked.logins[next++];
    FUZZ_CHECK(l.address == a->ToString() && l.login_time == e.login_time(),
               e.address());
  }
  FUZZ_CHECK(next == checked.logins.size(), "invalid event merged");
}

void Merge(std::vector<Login> logins) {
  Coordinator& c = TheCoordinator();
  if (++c.merges % kMergesPerExpiry == 0) {
    absl::StatusOr<MutationResult> all =
        c.writer->Expire(std::numeric_limits<int64_t>::max());
    FUZZ_CHECK(all.ok(), all.status().ToString());
    CatchUp(c);
  }
  // What each address should end up with: the latest time, clamped as
  // StateWriter does, if after the expiry cut-off.
  const int64_t now = c.clock.NowSeconds();
  const int64_t cutoff = c.writer->LoginCutoff();
  std::map<std::string, int64_t> latest;
  for (const Login& l : logins) {
    int64_t t = l.login_time > now + 60 ? now : l.login_time;
    if (t <= cutoff) continue;
    int64_t& best = latest[l.address];
    best = std::max(best, t);
  }
  // The attribution each address gets if this merge sets its time: that
  // of the first login at the latest time.
  std::map<std::string, Attribution> who;
  for (const Login& l : logins) {
    int64_t t = l.login_time > now + 60 ? now : l.login_time;
    auto it = latest.find(l.address);
    if (it != latest.end() && it->second == t) who.emplace(l.address, l.who);
  }
  absl::StatusOr<uint64_t> before = c.store->Version();
  FUZZ_CHECK(before.ok(), before.status().ToString());
  absl::StatusOr<uint64_t> merged = c.writer->MergeLogins(std::move(logins));
  FUZZ_CHECK(merged.ok(), merged.status().ToString());
  FUZZ_CHECK(*merged >= *before, "version went back");
  CatchUp(c);
  std::vector<StateChange> changes;
  FUZZ_CHECK(c.hub->Read(c.store->Epoch(), *before, 100000, &changes),
             "hub cannot answer");
  uint64_t last = *before;
  std::map<std::string, int64_t> final_ticks;
  for (const StateChange& ch : changes) {
    FUZZ_CHECK(ch.version == last + 1, "versions not dense");
    last = ch.version;
    FUZZ_CHECK(!ch.removed, ch.address);
    auto it = latest.find(ch.address);
    FUZZ_CHECK(it != latest.end(), "changed an address not in the batch");
    FUZZ_CHECK(ch.ticks > cutoff && ch.ticks <= it->second, ch.address);
    final_ticks[ch.address] = ch.ticks;
  }
  for (const auto& [address, ticks] : final_ticks) {
    FUZZ_CHECK(ticks == latest[address], "an earlier login won");
  }
  FUZZ_CHECK(last == *merged || changes.empty(), "covering version");
  if (c.merges % kMergesPerAttributionCheck != 0) return;
  absl::StatusOr<std::vector<AttributedEntry>> read = c.store->ReadAttributed();
  FUZZ_CHECK(read.ok(), read.status().ToString());
  for (const AttributedEntry& e : *read) {
    FUZZ_CHECK(e.who.host == kHost, e.address);
    if (final_ticks.count(e.address) != 0) {
      FUZZ_CHECK(e.who == who[e.address], "attribution of " + e.address);
    }
  }
}

}  // namespace
}  // namespace relaysync

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  relaysync::SetLogQuiet(true);
  // Parse failures (e.g. invalid UTF-8 in a string field) are expected.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relaysync;
  v1::AgentMessage message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (message.has_hello()) {
    CheckHelloMessage(message.hello());
  } else if (message.has_logins()) {
    const v1::LoginBatch& batch = message.logins();
    absl::StatusOr<CheckedLogins> checked = CheckLoginBatch(batch);
    FUZZ_CHECK(checked.ok() == (static_cast<size_t>(batch.events_size()) <=
                                kMaxLoginsPerBatch),
               checked.status().ToString());
    if (!checked.ok()) return 0;
    CheckSplit(batch, *checked);
    for (size_t i = 0; i < checked->logins.size(); ++i) {
      checked->logins[i].who =
          Attribution{kHost, batch.events(checked->positions[i]).user()};
    }
    if (!checked->logins.empty()) Merge(std::move(checked->logins));
  }
  return 0;
}
