#include "cli/client_tls.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace relaysync {
namespace {

std::string Pick(const std::optional<std::string>& option, const GetEnv& getenv,
                 const char* variable) {
  if (option) return *option;
  if (auto v = getenv(variable); v && !v->empty()) return *v;
  return "";
}

bool Readable(const std::string& path) {
  return access(path.c_str(), R_OK) == 0;
}

}  // namespace

absl::StatusOr<TlsFiles> ResolveClientTls(const ClientTlsOptions& options,
                                          const GetEnv& getenv,
                                          const std::string& home) {
  TlsFiles files;
  files.ca = Pick(options.ca, getenv, "VSMTPRELAY_TLS_CA");
  files.cert = Pick(options.cert, getenv, "VSMTPRELAY_TLS_CERT");
  files.key = Pick(options.key, getenv, "VSMTPRELAY_TLS_KEY");
  files.server_name =
      Pick(options.server_name, getenv, "VSMTPRELAY_TLS_SERVER_NAME");
  files.insecure = options.insecure;
  if (auto v = getenv("VSMTPRELAY_INSECURE"); v && *v == "1") {
    files.insecure = true;
  }
  if (!files.any_file() && !files.insecure) {
    // The per-user default, used only when it is complete.
    std::string dir;
    if (auto v = getenv("XDG_CONFIG_HOME"); v && !v->empty()) {
      dir = absl::StrCat(*v, "/relaysync");
    } else if (!home.empty()) {
      dir = absl::StrCat(home, "/.config/relaysync");
    }
    TlsFiles dflt = files;
    dflt.ca = dir + "/ca.pem";
    dflt.cert = dir + "/cert.pem";
    dflt.key = dir + "/key.pem";
    if (!dir.empty() && Readable(dflt.ca) && Readable(dflt.cert) &&
        Readable(dflt.key)) {
      files = dflt;
    }
  }
  absl::Status s = ValidateTlsFiles(
      files, TlsFlagNames{"--tls-ca", "--tls-cert", "--tls-key"});
  if (!s.ok()) {
    if (!files.any_file() && !files.insecure) {
      return absl::InvalidArgumentError(
          absl::StrCat(s.message(),
                       "; VSMTPRELAY_TLS_CA/_CERT/_KEY, or ca.pem, cert.pem "
                       "and key.pem in ~/.config/relaysync, work too"));
    }
    return s;
  }
  return files;
}

}  // namespace relaysync
