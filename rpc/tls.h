// Transport security of every relaysync connection: mutual TLS from PEM
// files that gRPC's file-watcher provider re-reads while the program runs
// (cert-manager, certbot or a hand rotation need no restart), or plaintext,
// but only when a program is told --insecure. See docs/security.md.
#ifndef RELAYSYNC_RPC_TLS_H_
#define RELAYSYNC_RPC_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace relaysync {

// How often changed certificate files are noticed.
inline constexpr absl::Duration kTlsReloadInterval = absl::Seconds(5);

// What a program was given on its command line (or environment).
struct TlsFiles {
  std::string ca;    // PEM bundle: the CA that signs the other side
  std::string cert;  // PEM: this side's certificate (chain)
  std::string key;   // PEM: its private key
  // Client only: the name expected in the coordinator's certificate when it
  // differs from the host in the address (e.g. connecting by IP).
  std::string server_name;
  bool insecure = false;  // --insecure: plaintext, no identities

  bool any_file() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

// The option names a program uses, for messages.
struct TlsFlagNames {
  const char* ca;
  const char* cert;
  const char* key;
};

// Checks a combination before any work is done: either all three files
// (each readable and holding PEM) or --insecure, never both, never neither.
// Messages name the options as `flags` spells them.
absl::Status ValidateTlsFiles(const TlsFiles& files, const TlsFlagNames& flags);

// Server credentials that require and verify a client certificate signed
// by `files.ca`; plaintext when `files.insecure`. Call after
// ValidateTlsFiles.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files);

// Client credentials that present `files.cert` and verify the server's
// certificate (chain to `files.ca`, name = target host or server_name).
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsFiles& files);

// Makes OpenSSL leave its state alone at exit. Its default exit handler
// frees per-thread state that gRPC's detached threads may still be using or
// freeing as the process ends (an ASan double free, once in 60 runs of a
// refused handshake). Credentials above call it; code that uses OpenSSL
// directly calls it first. Idempotent.
void KeepOpenSslUntilExit();

// The warning every program logs when it runs without TLS.
inline constexpr char kInsecureWarning[] =
    "--insecure: talking plaintext without authentication; anyone who can "
    "reach the coordinator can grant relaying (docs/security.md)";

}  // namespace relaysync

#endif  // RELAYSYNC_RPC_TLS_H_
