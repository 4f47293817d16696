#include "cli/coordinator_backend.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/agent_status.h"
#include "common/ticks.h"
#include "proto/relaysync/v1/limits.h"
#include "relaysync/v1/relaysync.grpc.pb.h"
#include "rpc/endpoints.h"
#include "rpc/grpc_status.h"
#include "rpc/wire.h"

namespace relaysync {
namespace {

class CoordinatorBackend : public RelayBackend {
 public:
  CoordinatorBackend(std::vector<std::string> targets, absl::Duration timeout,
                     const Clock* clock, const TlsFiles& tls)
      : targets_(std::move(targets)),
        timeout_(timeout),
        clock_(clock),
        tls_(tls) {}

  absl::Status Add(const Address& address,
                   std::optional<int64_t> ticks) override {
    v1::AddRequest req;
    req.set_address(address.ToString());
    if (ticks) req.set_ticks(*ticks);  // absent: the coordinator's now
    v1::AddResponse resp;
    std::string answered_by;
    absl::Status s = Call(
        [&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
          return stub->Add(ctx, req, &resp);
        },
        &answered_by);
    if (s.ok() && ticks && resp.entry().ticks() != *ticks) {
      // A coordinator older than AddRequest's optional ticks reads 0 as now.
      return absl::FailedPreconditionError(absl::StrCat(
          "coordinator ", answered_by, " stored ", req.address(),
          " with ticks ", resp.entry().ticks(), ", not ", *ticks,
          ": it predates exact ticks (0 is the epoch); upgrade it, or "
          "delete the entry"));
    }
    return s;
  }

  // Split into requests of the protocol's limit, in order: each is atomic
  // on the coordinator, the whole is not (a failure names what is done).
  absl::StatusOr<std::vector<std::string>> Delete(
      const std::vector<Address>& addresses) override {
    std::vector<std::string> missing;
    for (size_t start = 0; start < addresses.size();
         start += kMaxAddressesPerRequest) {
      const size_t end =
          std::min(addresses.size(), start + kMaxAddressesPerRequest);
      v1::DeleteRequest req;
      for (size_t i = start; i < end; ++i) {
        req.add_addresses(addresses[i].ToString());
      }
      v1::DeleteResponse resp;
      absl::Status s =
          Call([&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
            return stub->Delete(ctx, req, &resp);
          });
      if (!s.ok() && start > 0) {
        return absl::Status(
            s.code(), absl::StrCat(s.message(), " (the first ", start, " of ",
                                   addresses.size(),
                                   " addresses were deleted, the rest not)"));
      }
      if (!s.ok()) return s;
      missing.insert(missing.end(), resp.missing().begin(),
                     resp.missing().end());
    }
    return missing;
  }

  absl::StatusOr<int64_t> Expire(int64_t cutoff) override {
    v1::ExpireRequest req;
    req.set_older_than_seconds(
        std::max<int64_t>(0, clock_->NowSeconds() - cutoff));
    v1::ExpireResponse resp;
    absl::Status s = Call([&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
      return stub->Expire(ctx, req, &resp);
    });
    if (!s.ok()) return s;
    return resp.removed();
  }

  absl::StatusOr<std::vector<ListedEntry>> List(bool attribution) override {
    std::vector<ListedEntry> out;
    absl::Status s = Call([&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
      out.clear();
      v1::ListRequest req;
      req.set_attribution(attribution);
      auto reader = stub->List(ctx, req);
      v1::ListResponse chunk;
      while (reader->Read(&chunk)) {
        for (const v1::Entry& e : chunk.entries()) {
          AttributedEntry a;
          FromProto(e, &a);
          out.push_back(
              ListedEntry{MapEntry{std::move(a.address), absl::StrCat(a.ticks)},
                          std::move(a.who)});
        }
      }
      return reader->Finish();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<Description> Describe(const AgentLimits& limits) override {
    v1::StatusResponse resp;
    std::string answered_by;
    absl::Status s = Call(
        [&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
          return stub->Status(ctx, v1::StatusRequest(), &resp);
        },
        &answered_by);
    if (!s.ok()) return s;
    std::string out = absl::StrCat(
        "coordinator: ", answered_by, "\nstore: ", resp.store(),
        "\nstore epoch: ", resp.store_epoch(), "\nversion: ", resp.version(),
        "\nentries: ", resp.entries(),
        "\nfuture-stamped entries (never expire): ", resp.future_entries(),
        "\nexpire after: ",
        resp.expire_after_seconds() == 0
            ? std::string("never")
            : absl::StrCat(resp.expire_after_seconds(), " s"),
        "\nnever-relay refusals: ", resp.never_relay_refused(),
        "\nlogins refused for good (never merged): ", resp.rejected_events(),
        "\n");
    const int behind = DescribeAgents(resp, clock_->NowSeconds(), limits, &out);
    return Description{std::move(out), behind};
  }

 private:
  // Runs `rpc` against each coordinator in turn until one answers; only
  // UNAVAILABLE / DEADLINE_EXCEEDED move on to the next.
  absl::Status Call(
      const std::function<grpc::Status(v1::Admin::Stub*, grpc::ClientContext*)>&
          rpc,
      std::string* answered_by = nullptr) {
    absl::Status last;
    for (const std::string& target : targets_) {
      if (answered_by != nullptr) *answered_by = target;
      auto stub =
          v1::Admin::NewStub(MakeChannel(target, absl::Seconds(30), tls_));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(timeout_));
      grpc::Status s = rpc(stub.get(), &ctx);
      last = FromGrpcStatus(s, absl::StrCat("coordinator ", target));
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return last;
      }
    }
    return last;
  }

  const std::vector<std::string> targets_;
  const absl::Duration timeout_;
  const Clock* const clock_;
  const TlsFiles tls_;
};

}  // namespace

std::unique_ptr<RelayBackend> NewCoordinatorBackend(
    std::vector<std::string> targets, absl::Duration timeout,
    const Clock* clock, const TlsFiles& tls) {
  return std::make_unique<CoordinatorBackend>(std::move(targets), timeout,
                                              clock, tls);
}

}  // namespace relaysync
