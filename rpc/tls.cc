#include "rpc/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace relaysync {
namespace {

// Reads `path` and checks it holds a PEM block of `kind` ("CERTIFICATE",
// "PRIVATE KEY"), so that a wrong file is named at start, not at the first
// handshake.
absl::Status CheckPem(const char* flag, const std::string& path,
                      const char* kind) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  // "-----BEGIN EC PRIVATE KEY-----" and "-----BEGIN PRIVATE KEY-----" both
  // end in the kind.
  if (!absl::StrContains(text.str(), absl::StrCat(kind, "-----")) ||
      !absl::StrContains(text.str(), "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, ": no PEM ", absl::AsciiStrToLower(kind), " in it"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Watcher(
    const TlsFiles& files) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.ca,
      static_cast<unsigned>(absl::ToInt64Seconds(kTlsReloadInterval)));
}

}  // namespace

absl::Status ValidateTlsFiles(const TlsFiles& files,
                              const TlsFlagNames& flags) {
  if (files.insecure) {
    if (files.any_file()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--insecure and ", flags.ca, "/", flags.cert, "/",
                       flags.key, " exclude each other: choose one"));
    }
    return absl::OkStatus();
  }
  if (!files.any_file()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no TLS credentials: give ", flags.ca, ", ", flags.cert,
                     " and ", flags.key,
                     " (see docs/security.md), or --insecure to talk plaintext "
                     "without authentication"));
  }
  const struct {
    const char* flag;
    const std::string& path;
    const char* kind;
  } parts[] = {{flags.ca, files.ca, "CERTIFICATE"},
               {flags.cert, files.cert, "CERTIFICATE"},
               {flags.key, files.key, "PRIVATE KEY"}};
  for (const auto& p : parts) {
    if (p.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(p.flag, ": missing; ", flags.ca, ", ", flags.cert,
                       " and ", flags.key, " go together"));
    }
  }
  for (const auto& p : parts) {
    if (absl::Status s = CheckPem(p.flag, p.path, p.kind); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void KeepOpenSslUntilExit() {
  // The first initialization decides whether OpenSSL registers its exit
  // handler, so this must run before gRPC's.
  static absl::once_flag once;
  absl::call_once(once,
                  [] { OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, nullptr); });
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files) {
  if (files.insecure) return grpc::InsecureServerCredentials();
  KeepOpenSslUntilExit();
  grpc::experimental::TlsServerCredentialsOptions options(Watcher(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsFiles& files) {
  if (files.insecure) return grpc::InsecureChannelCredentials();
  KeepOpenSslUntilExit();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Watcher(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace relaysync
