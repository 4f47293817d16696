#include "agent/check_coordinator.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rpc/endpoints.h"
#include "rpc/tls_probe.h"

namespace relaysync {
namespace {

constexpr absl::Duration kRenewWarning = absl::Hours(24 * 14);

std::string Utc(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}

void CheckCertificate(const CheckConfigOptions& o, CheckReport* r) {
  absl::StatusOr<CertificateFacts> facts = ReadCertificate(o.tls);
  if (!facts.ok()) {
    r->Fail(facts.status().message());
    return;
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string what = absl::StrCat("--tls-cert ", o.tls.cert);
  if (facts->not_after < now) {
    r->Fail(absl::StrCat(what, ": expired certificate: it expired on ",
                         Utc(facts->not_after),
                         ": the coordinator refuses it; renew it "
                         "(scripts/make-certs.sh, cert-manager)"));
  } else if (facts->not_before > now) {
    r->Fail(absl::StrCat(what, ": not valid before ", Utc(facts->not_before),
                         ": check this host's clock"));
  } else if (absl::Seconds(facts->not_after - now) < kRenewWarning) {
    r->Warn(absl::StrCat(what, ": expires on ", Utc(facts->not_after),
                         ": renew it soon"));
  }
  if (!facts->signed_by_ca) {
    r->Warn(absl::StrCat(what, ": not signed by --tls-ca ", o.tls.ca,
                         ": the coordinator accepts it only if its "
                         "--tls-client-ca is the CA that signed it"));
  }
  // The coordinator takes an agent's host id from its identity's final path
  // segment (coordinator/access_policy.h).
  std::string identity;
  for (const std::string& uri : facts->uris) {
    if (absl::EndsWith(uri, absl::StrCat("/", o.host_id))) identity = uri;
  }
  if (identity.empty()) {
    r->Fail(absl::StrCat(
        what, ": its identity (",
        facts->uris.empty() ? std::string("no URI SAN") : facts->uris.front(),
        ") does not end in /", o.host_id,
        ": the coordinator refuses this agent's hello as host id ", o.host_id,
        "; give --host-id the certificate's, or a certificate for it"));
    return;
  }
  r->Ok(absl::StrCat(what, ": identity ", identity, ", valid until ",
                     Utc(facts->not_after)));
}

// grpc.health.v1 on the Sync port: the same channel, credentials and
// handshake as the agent's stream, and allowed to every verified client.
absl::Status HealthCheck(const std::string& target, const TlsFiles& tls,
                         absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(
      MakeChannel(target, absl::Seconds(10), tls, /*own_connection=*/true));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(timeout));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("relaysync.v1.RelaySync");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("coordinator ", target, ": ", s.error_message(),
                     " (gRPC code ", static_cast<int>(s.error_code()), ")"));
  }
  if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        "coordinator ", target, " answers but is not serving (stopping?)"));
  }
  return absl::OkStatus();
}

}  // namespace

void CheckCoordinators(const CheckConfigOptions& o, CheckReport* r) {
  if (o.coordinators.empty()) {
    r->Fail("--coordinator: none given");
    return;
  }
  if (o.tls.insecure) {
    r->Warn(
        "--insecure: plaintext, no authentication: for a test on one "
        "machine only");
  } else {
    CheckCertificate(o, r);
  }
  std::vector<std::pair<std::string, bool>> lines;  // text, reached
  int reached = 0;
  for (const std::string& target : o.coordinators) {
    const absl::Time start = absl::Now();
    absl::Status s = HealthCheck(target, o.tls, o.timeout);
    if (s.ok()) {
      ++reached;
      lines.emplace_back(
          absl::StrCat("coordinator ", target, " answers",
                       o.tls.insecure ? " (plaintext)" : " over mutual TLS",
                       " in ",
                       absl::FormatDuration(absl::Trunc(
                           absl::Now() - start, absl::Milliseconds(1)))),
          true);
      continue;
    }
    // gRPC says "failed to connect to all addresses" for most causes: ask
    // OpenSSL which one.
    absl::Status why = ProbeTls(target, o.tls, o.timeout);
    lines.emplace_back(absl::StrCat("coordinator ", target, ": ",
                                    why.ok() ? s.message() : why.message()),
                       false);
  }
  for (const auto& [text, ok] : lines) {
    if (ok) {
      r->Ok(text);
    } else if (reached > 0) {
      r->Warn(absl::StrCat(text, " (the agent fails over to another)"));
    } else {
      r->Fail(text);
    }
  }
}

}  // namespace relaysync
