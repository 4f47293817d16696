// Where vsmtprelay finds its TLS credentials for --coordinator: options,
// then VSMTPRELAY_TLS_* variables, then the per-user default
// $XDG_CONFIG_HOME/relaysync (~/.config/relaysync): ca.pem, cert.pem and
// key.pem. Plaintext only with --insecure or VSMTPRELAY_INSECURE=1.
#ifndef RELAYSYNC_CLI_CLIENT_TLS_H_
#define RELAYSYNC_CLI_CLIENT_TLS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "rpc/tls.h"

namespace relaysync {

// What the command line said; unset fields fall back to the environment.
struct ClientTlsOptions {
  std::optional<std::string> ca, cert, key, server_name;
  bool insecure = false;
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

// Resolves and validates (ValidateTlsFiles) the credentials. `home` is the
// user's home directory, for the default location.
absl::StatusOr<TlsFiles> ResolveClientTls(const ClientTlsOptions& options,
                                          const GetEnv& getenv,
                                          const std::string& home);

}  // namespace relaysync

#endif  // RELAYSYNC_CLI_CLIENT_TLS_H_
