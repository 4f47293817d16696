// Agent: everything relaysync runs on one mail host. Event sources feed
// logins into the durable spool and the local relay map at once; the
// CoordinatorClient ships them and keeps the map equal to the cluster.
#ifndef RELAYSYNC_AGENT_AGENT_H_
#define RELAYSYNC_AGENT_AGENT_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/log_format.h"
#include "backends/map/map_kind.h"
#include "backends/map/relayers_db.h"
#include "common/address.h"
#include "common/clock.h"
#include "common/never_relay.h"
#include "rpc/tls.h"

namespace relaysync {

// The Berkeley DB cache of the agent's map handles (MapOptions::
// cache_bytes): its map lives in the kernel's page cache anyway, and the
// agent writes a few pages a login, so a small cache costs little speed
// and keeps a million-entry agent small (bench/README.md).
inline constexpr size_t kAgentMapCacheBytes = 1 << 20;

struct AgentOptions {
  std::vector<std::string> coordinators;  // gRPC targets
  std::string host_id;
  TlsFiles tls;  // mutual TLS to the coordinators, or tls.insecure
  // See CoordinatorClientOptions::max_queued_changes.
  size_t max_queued_changes = 100000;
  // The sendmail map (--db), written with key_style and map_options;
  // empty: none.
  std::string db_path;
  // More maps to keep from the same state (--output=KIND:PATH), each in its
  // kind's format and key spelling.
  std::vector<MapOutput> outputs;
  std::string spool_dir;
  // HOST:PORT serving Prometheus /metrics over plain HTTP, without
  // authentication (docs/operations.md, "Metrics"); empty: none.
  std::string metrics_listen;
  std::string notify_socket;  // empty: none
  // Where `relaysync-agent notify` leaves logins the agent could not
  // confirm; drained at start and twice a second. Empty: the socket's path
  // plus ".d" (agent/notify_drop_dir.h).
  std::string notify_drop_dir;
  mode_t notify_socket_mode = 0660;
  // The notify socket's group (chown); empty: the agent's. Its members,
  // by primary group, may report logins.
  std::string notify_socket_group;
  // Who else may report logins on the notify socket (names or numbers);
  // root and the agent's own uid always may.
  std::vector<std::string> notify_allow_users;
  std::vector<std::string> notify_allow_groups;
  // Dovecot's own log_path files to tail: only lines in their form count.
  std::vector<std::string> watch_logs;
  // Syslog files whose login lines (of log_formats) are believed, although
  // any local user can write such lines (--watch-syslog).
  std::vector<std::string> watch_syslogs;
  // Follow the systemd journal (--watch-journal): only entries of these
  // units (_SYSTEMD_UNIT) or executables (_EXE) count, both empty: the
  // units of log_formats' daemons (agent/journal_source.h). An empty
  // directory is the system journal.
  bool watch_journal = false;
  std::vector<std::string> journal_units;
  std::vector<std::string> journal_executables;
  std::string journal_directory;
  // The formats of the watched logs and journal (--log-format); not owned,
  // from AllLogFormats() (agent/log_format.h).
  std::vector<const LogFormat*> log_formats = {FindLogFormat("dovecot")};
  // Open sessions seen in the watched logs keep their grant alive
  // (agent/session_tracker.h): refresh interval (zero: a third of the
  // coordinator's expiry policy), how many, and for how long at most.
  // max_sessions zero: not tracked.
  absl::Duration session_refresh = absl::ZeroDuration();
  size_t max_sessions = 10000;
  absl::Duration max_session_age = absl::Hours(12);
  KeyStyle key_style = KeyStyle::kSendmail;
  // map_options.sync_to_disk is decided by Start(): true only with
  // map_fsync or when the boot id is unknown. Without it, a reboot (which
  // may have lost unsynced writes) makes the agent start from a snapshot.
  MapOptions map_options;
  bool map_fsync = false;
  // With several maps, one that cannot be written is retried this often
  // (doubling) while the others stay current.
  absl::Duration map_retry_min = absl::Seconds(1);
  absl::Duration map_retry_max = absl::Seconds(30);
  // Local logins for these addresses are dropped before the spool and the
  // map (--never-relay); the coordinator applies its own list as well.
  NeverRelay never_relay = NeverRelay::Defaults();
};

class Agent {
 public:
  // Opens the map, the spool and the sources and starts syncing. `clock`
  // is not owned and must outlive the agent.
  static absl::StatusOr<std::unique_ptr<Agent>> Start(
      const AgentOptions& options, const Clock* clock);
  ~Agent();

  // Stops sources, then the client; saves state. Idempotent.
  void Stop();

  // SIGHUP: reconnects to the coordinator at once, so that renewed TLS
  // files are presented now (gRPC re-reads them every 5 s, but a stream
  // keeps the certificate it started with), and logs one line saying so.
  // Nothing else is read from a file at start that could change: the
  // watched logs follow rotation by themselves (agent/log_tailer.h).
  // Thread-safe; not after Stop().
  void Reload();

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_AGENT_H_
