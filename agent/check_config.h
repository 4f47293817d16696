// relaysync-agent check-config: checks, with the flags the agent runs with,
// what the agent cannot check for itself at start or what fails only
// later, out of its sight: the MTA can read the maps and will trust them,
// the coordinator answers with these certificates, Dovecot's post-login
// user can reach the notify socket, the watched logs cannot be forged.
// Prints one line per check ("ok: ", "warn: ", "FAIL: " and what to do).
#ifndef RELAYSYNC_AGENT_CHECK_CONFIG_H_
#define RELAYSYNC_AGENT_CHECK_CONFIG_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "backends/map/map_kind.h"
#include "rpc/tls.h"

namespace relaysync {

struct CheckConfigOptions {
  std::vector<MapOutput> maps;  // --db (kind sendmail) and every --output
  // Who reads the maps (--mta-user); empty: by kind (DefaultMtaUser).
  std::string mta_user;
  std::vector<std::string> coordinators;  // ParseEndpoints targets
  TlsFiles tls;
  std::string host_id;
  absl::Duration timeout = absl::Seconds(5);  // per coordinator
  std::string notify_socket;                  // empty: none configured
  // Who runs `relaysync-agent notify` (--notify-user); empty: the first
  // --notify-allow-uid, else the user running the check.
  std::string notify_user;
  std::vector<std::string> notify_allow_users;
  std::vector<std::string> notify_allow_groups;
  std::string notify_socket_group;
  std::vector<std::string> watch_logs;
};

// The account each kind's reader runs lookups as on Debian: root (the
// sendmail daemon), postfix (smtpd), Debian-exim.
std::string DefaultMtaUser(MapKind kind);

// Runs every check, printing to `out`. Returns 0 when none failed (warnings
// allowed), 1 otherwise.
int CheckConfig(const CheckConfigOptions& options, std::ostream& out);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_CHECK_CONFIG_H_
