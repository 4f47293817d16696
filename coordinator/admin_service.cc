#include "coordinator/admin_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/logging.h"
#include "proto/relaysync/v1/limits.h"
#include "rpc/grpc_status.h"
#include "rpc/wire.h"

namespace relaysync {
namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// Parses `text` as the address in field `field`, or explains which field
// was wrong.
grpc::Status CanonicalAddress(const std::string& text, const std::string& field,
                              std::string* out) {
  absl::StatusOr<Address> a = Address::Parse(text);
  if (!a.ok()) return Invalid(absl::StrCat(field, ": ", a.status().message()));
  *out = a->ToString();
  return grpc::Status::OK;
}

// Writes the outcome of an admin change to the audit log.
void Audit(Authorizer* authorizer, const Caller& caller, const char* action,
           std::vector<std::string> addresses, const grpc::Status& result,
           std::string detail = "") {
  AuditRecord record;
  record.identity = caller.identity;
  record.peer = caller.peer;
  record.action = action;
  record.addresses = std::move(addresses);
  record.result = result.ok() ? "ok" : result.error_message();
  record.detail = std::move(detail);
  authorizer->audit()->Write(record);
}

}  // namespace

AdminService::AdminService(Store* store, StateWriter* writer,
                           AgentRegistry* registry, const Clock* clock,
                           Authorizer* authorizer, NeverRelayGate* gate)
    : store_(store),
      writer_(writer),
      registry_(registry),
      clock_(clock),
      authorizer_(authorizer),
      gate_(gate) {}

grpc::Status AdminService::Add(grpc::ServerContext* context,
                               const v1::AddRequest* request,
                               v1::AddResponse* response) {
  Caller caller;
  grpc::Status s = authorizer_->Check(*context, Role::kAdmin, "add", &caller);
  if (!s.ok()) return s;
  std::string address;
  s = CanonicalAddress(request->address(), "address", &address);
  if (s.ok() && request->ticks() < 0) {
    s = Invalid("ticks: must not be negative");
  }
  if (s.ok()) {
    s = ToGrpcStatus(gate_->Admit(
        *Address::Parse(address),
        absl::StrCat("admin add by ",
                     caller.insecure ? "(insecure)" : caller.identity)));
  }
  if (!s.ok()) {
    Audit(authorizer_, caller, "add", {request->address()}, s);
    return s;
  }
  const int64_t now = clock_->NowSeconds();
  // Absent means now; 0 is the epoch (vsmtprelay 1.1.0's add ip 0).
  const int64_t ticks = request->has_ticks() ? request->ticks() : now;
  // A certificate's URI may be longer than a store keeps: its start is
  // enough to tell admins apart, and the audit log has it whole.
  const Attribution who{kAdminHost,
                        caller.insecure
                            ? "(insecure)"
                            : caller.identity.substr(0, kMaxAttributionField)};
  absl::StatusOr<MutationResult> r = writer_->Put(address, ticks, who);
  s = r.ok() ? grpc::Status::OK : ToGrpcStatus(r.status());
  // A future entry outlives every expiry: worth its own mark in the trail.
  Audit(authorizer_, caller, "add", {address}, s,
        ticks > now ? absl::StrCat("future ticks ", ticks, " (now ", now, ")")
                    : absl::StrCat("ticks ", ticks));
  if (!s.ok()) return s;
  LogInfo("admin add ", address, " ", ticks, " by ",
          caller.insecure ? "(insecure)" : caller.identity);
  ToProto(StateEntry{address, ticks}, response->mutable_entry());
  return grpc::Status::OK;
}

grpc::Status AdminService::Delete(grpc::ServerContext* context,
                                  const v1::DeleteRequest* request,
                                  v1::DeleteResponse* response) {
  Caller caller;
  grpc::Status allowed =
      authorizer_->Check(*context, Role::kAdmin, "delete", &caller);
  if (!allowed.ok()) return allowed;
  if (request->addresses_size() == 0) {
    return Invalid("addresses: at least one address is required");
  }
  if (static_cast<size_t>(request->addresses_size()) >
      kMaxAddressesPerRequest) {
    return Invalid(absl::StrCat("addresses: ", request->addresses_size(),
                                " given, at most ", kMaxAddressesPerRequest));
  }
  std::vector<std::string> addresses;
  for (int i = 0; i < request->addresses_size(); ++i) {
    std::string a;
    grpc::Status s = CanonicalAddress(request->addresses(i),
                                      absl::StrCat("addresses[", i, "]"), &a);
    if (!s.ok()) return s;
    addresses.push_back(std::move(a));
  }
  absl::StatusOr<MutationResult> r = writer_->Delete(addresses);
  grpc::Status s = r.ok() ? grpc::Status::OK : ToGrpcStatus(r.status());
  Audit(authorizer_, caller, "delete", addresses, s);
  if (!s.ok()) return s;
  LogInfo("admin delete of ", addresses.size(), " address(es), ",
          r->missing.size(), " not present");
  for (const std::string& m : r->missing) response->add_missing(m);
  return grpc::Status::OK;
}

grpc::Status AdminService::Expire(grpc::ServerContext* context,
                                  const v1::ExpireRequest* request,
                                  v1::ExpireResponse* response) {
  Caller caller;
  grpc::Status s =
      authorizer_->Check(*context, Role::kAdmin, "expire", &caller);
  if (!s.ok()) return s;
  if (request->older_than_seconds() < 0) {
    return Invalid("older_than_seconds: must not be negative");
  }
  absl::StatusOr<MutationResult> r =
      writer_->Expire(clock_->NowSeconds() - request->older_than_seconds());
  s = r.ok() ? grpc::Status::OK : ToGrpcStatus(r.status());
  std::vector<std::string> removed;
  if (r.ok()) {
    for (const StateChange& c : r->changes) removed.push_back(c.address);
  }
  Audit(authorizer_, caller, "expire", std::move(removed), s,
        absl::StrCat("older than ", request->older_than_seconds(), " s"));
  if (!s.ok()) return s;
  LogInfo("admin expire: removed ", r->changes.size());
  response->set_removed(static_cast<int64_t>(r->changes.size()));
  return grpc::Status::OK;
}

grpc::Status AdminService::List(grpc::ServerContext* context,
                                const v1::ListRequest* request,
                                grpc::ServerWriter<v1::ListResponse>* writer) {
  Caller caller;
  grpc::Status allowed =
      authorizer_->Check(*context, Role::kReader, "list", &caller);
  if (!allowed.ok()) return allowed;
  if (request->filter() && request->older_than_seconds() < 0) {
    return Invalid("older_than_seconds: must not be negative");
  }
  // Agents' snapshots never carry attribution; only this read pays for it.
  std::vector<AttributedEntry> entries;
  if (request->attribution()) {
    absl::StatusOr<std::vector<AttributedEntry>> read =
        store_->ReadAttributed();
    if (!read.ok()) return ToGrpcStatus(read.status());
    entries = std::move(*read);
  } else {
    absl::StatusOr<Snapshot> snap = store_->ReadSnapshot();
    if (!snap.ok()) return ToGrpcStatus(snap.status());
    entries.reserve(snap->entries.size());
    for (StateEntry& e : snap->entries) {
      entries.push_back({std::move(e.address), e.ticks, {}});
    }
  }
  const int64_t cutoff = clock_->NowSeconds() - request->older_than_seconds();
  v1::ListResponse chunk;
  for (const AttributedEntry& e : entries) {
    if (request->filter() && e.ticks > cutoff) continue;
    // Without attribution `who` is empty: nothing more on the wire.
    ToProto(e, chunk.add_entries());
    if (static_cast<size_t>(chunk.entries_size()) >= kSnapshotChunkEntries) {
      if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
      chunk.Clear();
    }
  }
  if (chunk.entries_size() > 0 && !writer->Write(chunk)) {
    return grpc::Status::CANCELLED;
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Status(grpc::ServerContext* context,
                                  const v1::StatusRequest*,
                                  v1::StatusResponse* response) {
  Caller caller;
  grpc::Status allowed =
      authorizer_->Check(*context, Role::kReader, "status", &caller);
  if (!allowed.ok()) return allowed;
  absl::StatusOr<uint64_t> version = store_->Version();
  if (!version.ok()) return ToGrpcStatus(version.status());
  absl::StatusOr<int64_t> count = store_->EntryCount();
  if (!count.ok()) return ToGrpcStatus(count.status());
  absl::StatusOr<int64_t> future = store_->CountLaterThan(
      clock_->NowSeconds() +
      absl::ToInt64Seconds(writer_->options().max_clock_skew));
  if (!future.ok()) return ToGrpcStatus(future.status());
  response->set_store(store_->Name());
  response->set_store_epoch(store_->Epoch());
  response->set_version(*version);
  response->set_entries(*count);
  response->set_expire_after_seconds(
      absl::ToInt64Seconds(writer_->options().expire_after));
  response->set_never_relay_refused(gate_->refused());
  response->set_rejected_events(registry_->rejected());
  response->set_future_entries(*future);
  response->set_now(clock_->NowSeconds());
  for (const AgentInfo& a : registry_->ListWithGone()) {
    v1::AgentStatus* s = response->add_agents();
    s->set_host_id(a.host_id);
    s->set_peer(a.peer);
    s->set_applied_version(a.applied_version);
    s->set_connected_since(a.connected_since);
    s->set_last_seen(a.last_seen);
    s->set_disconnected(!a.connected);
  }
  return grpc::Status::OK;
}

}  // namespace relaysync
