// Says why a connection to a coordinator fails, in words an operator can act
// on (relaysync-agent check-config). gRPC reports a refused certificate, an
// unknown CA and a closed port alike ("failed to connect to all
// addresses"); this repeats the connection with OpenSSL and names the cause.
#ifndef RELAYSYNC_RPC_TLS_PROBE_H_
#define RELAYSYNC_RPC_TLS_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/tls.h"

namespace relaysync {

// This side's certificate, as --tls-cert holds it.
struct CertificateFacts {
  int64_t not_before = 0;  // seconds since the epoch
  int64_t not_after = 0;
  std::vector<std::string> uris;  // URI SANs (the SPIFFE identity)
  // files.ca verifies it too (usual: one CA signs both sides). Otherwise
  // the coordinator's --tls-client-ca must be another CA that does.
  bool signed_by_ca = false;
};

// Reads files.cert and checks that files.key is its key. Errors name the
// file and what is wrong with it.
absl::StatusOr<CertificateFacts> ReadCertificate(const TlsFiles& files);

// Connects to `target` (a ParseEndpoints element) within `timeout`, makes a
// TLS handshake with files.cert/key and checks the coordinator's
// certificate against files.ca and the name (files.server_name, else the
// target's host). OK when all of that works; otherwise Unavailable
// ("unreachable: ..."), or FailedPrecondition saying which side refused
// which certificate and why (expired, unknown CA, name mismatch).
absl::Status ProbeTls(const std::string& target, const TlsFiles& files,
                      absl::Duration timeout);

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_TLS_PROBE_H_
