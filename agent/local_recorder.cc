#include "agent/local_recorder.h"

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/local_expiry.h"
#include "agent/map_trouble.h"

namespace relaysync {

LocalRecorder::LocalRecorder(Spool* spool, Materializer* materializer,
                             SyncSignal* signal)
    : spool_(spool), materializer_(materializer), signal_(signal) {}

LocalRecorder::Outcome LocalRecorder::SpoolThenMap(
    const std::vector<LocalLogin>& logins, bool map_unspooled) {
  Outcome out;
  // Durable first: once the caller moves on, the logins must survive.
  out.spool = spool_->Append(logins).status();
  if (!out.spool.ok() && !map_unspooled) return out;
  // The client sends from the spool, so it can go while the map is being
  // written.
  signal_->Wake();
  std::vector<StateEntry> entries;
  entries.reserve(logins.size());
  for (const LocalLogin& login : logins) {
    entries.push_back(StateEntry{login.address, login.login_time});
  }
  out.map = materializer_->AddLocal(entries);
  return out;
}

absl::Status LocalRecorder::Record(const std::vector<LocalLogin>& logins) {
  if (logins.empty()) return absl::OkStatus();
  const Outcome out = SpoolThenMap(logins, /*map_unspooled=*/true);
  if (!out.spool.ok()) {
    // Disk full or the spool directory damaged: every login would log.
    spool_trouble_.Log(
        LogLevel::kError,
        absl::StrCat("spool: ", out.spool.message(), " (", logins.size(),
                     " login(s), first of ", logins.front().address,
                     ", relayed here only and never sent to the cluster):"
                     " free space on the spool's file system or fix its "
                     "permissions"));
  }
  if (!out.map.ok()) {
    // Each login would log again: one line a minute. The logins are
    // spooled, and the next write of any kind rebuilds the map.
    map_trouble_.Log(LogLevel::kError,
                     MapTroubleMessage("a login on this host", out.map,
                                       LocalExpiry::kMaxRetry));
  }
  if (!out.spool.ok()) {
    return absl::UnavailableError(absl::StrCat("spool: ", out.spool.message()));
  }
  return absl::OkStatus();
}

absl::Status LocalRecorder::Resend(const std::vector<StateEntry>& held) {
  // Pending local logins, so the coming snapshot does not remove them
  // meanwhile.
  std::vector<LocalLogin> logins;
  logins.reserve(held.size());
  for (const StateEntry& e : held) {
    LocalLogin login;
    login.address = e.address;
    login.login_time = e.ticks;
    login.source = "resync";
    logins.push_back(std::move(login));
  }
  return SpoolThenMap(logins, /*map_unspooled=*/false).spool;
}

}  // namespace relaysync
