// Checks of Sync stream input; see sync_input.h.
#include "coordinator/sync_input.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "proto/relaysync/v1/limits.h"

namespace relaysync {
namespace {

// The event's canonical address, or why it cannot be merged.
absl::StatusOr<Address> CheckEvent(const v1::LoginEvent& e) {
  absl::StatusOr<Address> address = Address::Parse(e.address());
  if (!address.ok()) return address.status();
  if (e.login_time() <= 0) {
    return absl::InvalidArgumentError("bad login_time");
  }
  if (e.event_id().size() > kMaxTextField) {
    return absl::InvalidArgumentError(
        absl::StrCat("event id longer than ", kMaxTextField, " bytes"));
  }
  return address;
}

}  // namespace

absl::Status CheckHello(const v1::Hello& hello) {
  const std::string& host = hello.host_id();
  if (host.empty() || host.size() > kMaxTextField) {
    return absl::InvalidArgumentError(
        absl::StrCat("hello.host_id: must be 1-", kMaxTextField, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckedLogins> CheckLoginBatch(const v1::LoginBatch& batch) {
  if (static_cast<size_t>(batch.events_size()) > kMaxLoginsPerBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("logins.events: ", batch.events_size(),
                     " events in one batch, at most ", kMaxLoginsPerBatch));
  }
  CheckedLogins out;
  out.logins.reserve(batch.events_size());
  out.event_ids.reserve(batch.events_size());
  for (int i = 0; i < batch.events_size(); ++i) {
    const v1::LoginEvent& e = batch.events(i);
    out.event_ids.push_back(e.event_id());
    absl::StatusOr<Address> address = CheckEvent(e);
    if (!address.ok()) {
      // The id is quoted by its start only: it may be megabytes long.
      CheckedLogins::Dropped dropped;
      dropped.event_id = e.event_id();
      dropped.reason = std::string(address.status().message());
      dropped.line =
          absl::StrCat("event ", i, " (",
                       absl::CHexEscape(e.event_id().substr(0, kMaxTextField)),
                       "): ", dropped.reason);
      out.dropped.push_back(std::move(dropped));
      continue;
    }
    out.logins.push_back(Login{address->ToString(), e.login_time()});
    out.positions.push_back(i);
  }
  return out;
}

}  // namespace relaysync
