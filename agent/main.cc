// relaysync-agent: runs on every mail host (see docs/operations.md).
//   relaysync-agent --coordinator=HOST:PORT --host-id=NAME --db=PATH
//                   --spool-dir=DIR [--notify-socket=PATH] [--watch-log=PATH]
//                   [--watch-journal [--journal-unit=UNIT,...]]
//   relaysync-agent notify --socket=PATH [--protocol=imap|pop3] IP [USER]
//   relaysync-agent test-log [--log-format=FORMAT] FILE
//   relaysync-agent check-config [the agent's flags]
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "agent/agent_flags.h"
#include "agent/check_config_main.h"
#include "agent/local_login.h"
#include "agent/log_format.h"
#include "agent/notify_drop_dir.h"
#include "agent/test_log.h"
#include "backends/map/map_kind.h"
#include "common/address.h"
#include "common/flag_names.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/signals.h"
#include "rpc/endpoints.h"
#include "rpc/grpc_logging.h"

ABSL_FLAG(std::string, coordinator, "",
          "coordinator HOST:PORT[,HOST:PORT...], tried in order (required)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle that signed the coordinator's certificate");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this agent, with the URI SAN "
          "spiffe://DOMAIN/agent/HOST-ID; re-read when it changes");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "the name to expect in the coordinator's certificate when it is "
          "not the host in --coordinator (e.g. connecting by IP)");
ABSL_FLAG(bool, insecure, false,
          "talk plaintext to a coordinator started with --insecure: no "
          "authentication, for a test on one machine only");
ABSL_FLAG(std::string, host_id, "",
          "this host's name in the cluster "
          "(default: the host name)");
ABSL_FLAG(std::string, db, "/etc/mail/relayers.db",
          "the relay map the MTA reads (created if missing)");
ABSL_FLAG(std::string, output, "",
          "KIND:PATH: one more relay map to keep from the same state, in "
          "KIND's format (sendmail, postfix-hash, postfix-lmdb, exim-dbm, "
          "exim-dbmnz, cdb, text; docs/maps.md); repeat for several. With "
          "--output and no "
          "--db, no sendmail map is written");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT serving Prometheus metrics at /metrics over plain HTTP, "
          "without authentication: bind it to loopback or a pod IP (with a "
          "NetworkPolicy). Empty: off");
ABSL_FLAG(std::string, spool_dir, "/var/spool/relaysync",
          "durable spool of unacknowledged logins and agent state");
ABSL_FLAG(std::string, notify_socket, "",
          "listen for logins on this unix datagram socket (e.g. "
          "/run/relaysync/notify.sock)");
ABSL_FLAG(std::string, notify_drop_dir, "",
          "where `relaysync-agent notify` leaves logins the agent could not "
          "confirm (not running, killed, slow); drained at start and twice a "
          "second. Default: the notify socket's path plus \".d\". Put it on "
          "persistent storage (e.g. /var/spool/relaysync/notify) to keep "
          "them across a reboot, and give notify the same --drop-dir");
ABSL_FLAG(std::string, notify_socket_mode, "0660",
          "octal permissions of the notify socket");
ABSL_FLAG(std::vector<std::string>, watch_log, {},
          "Dovecot's own log file(s) (its log_path) to tail for logins; "
          "lines in syslog form in them are ignored (see --watch-syslog). "
          "A file writable by group or others is refused");
// Who may grant relaying through this host (docs/operations.md, "Local
// surfaces").
ABSL_FLAG(std::vector<std::string>, watch_syslog, {},
          "RISKY: syslog file(s) (e.g. /var/log/mail.log) whose login lines "
          "(\"dovecot:\", or those of --log-format) are believed. Any local "
          "user can write syslog lines "
          "with any tag (logger -t dovecot ...) and so make any address "
          "relay through every host of the cluster; prefer Dovecot's own "
          "log_path with --watch-log, or the notify socket");
ABSL_FLAG(bool, watch_journal, false,
          "follow the systemd journal for logins: only entries that "
          "journald itself records as written by the mail daemon's unit "
          "(--journal-unit) or executable (--journal-exe) count, never one "
          "matched by its SYSLOG_IDENTIFIER, which any local user can set");
ABSL_FLAG(std::vector<std::string>, journal_unit, {},
          "--watch-journal: the systemd units (_SYSTEMD_UNIT) whose entries "
          "count; default: those of --log-format's Debian packages "
          "(dovecot.service; courier-imap.service, courier-imap-ssl.service, "
          "courier-pop.service, courier-pop-ssl.service; cyrus-imapd.service)");
ABSL_FLAG(std::vector<std::string>, journal_exe, {},
          "--watch-journal: absolute paths of executables (_EXE) whose "
          "entries count, for daemons run from inetd (qpopper, UW-IMAP); "
          "replaces the default units");
ABSL_FLAG(std::string, journal_directory, "",
          "--watch-journal: read the journal files in this directory instead "
          "of the system journal");
ABSL_FLAG(std::string, log_format, "dovecot",
          "the format of the --watch-log and --watch-syslog files and of "
          "--watch-journal's messages: dovecot, "
          "courier, cyrus, qpopper, uw-imap, or auto (each in turn). Only "
          "Dovecot writes a log file of its own; the others log only through "
          "syslog, so their lines count only under --watch-syslog");
ABSL_FLAG(absl::Duration, session_refresh, absl::ZeroDuration(),
          "while a POP3/IMAP session seen in a watched log is open (login "
          "line, no logout line yet), renew its address's grant this often; "
          "0: a third of the coordinator's --expire-after");
ABSL_FLAG(int64_t, max_sessions, 10000,
          "open sessions tracked at most (beyond, the oldest is no longer "
          "refreshed); 0: do not track sessions");
ABSL_FLAG(absl::Duration, max_session_age, absl::Hours(12),
          "a session is refreshed for at most this long after its login, "
          "even if its logout line is never seen");
ABSL_FLAG(std::string, notify_socket_group, "",
          "chown the notify socket to this group (name or number); with "
          "--notify-socket-mode=0660 its members may send, and senders whose "
          "primary group it is are allowed (default: the agent's group)");
ABSL_FLAG(std::vector<std::string>, notify_allow_uid, {},
          "users (names or numbers) whose datagrams on the notify socket "
          "count, checked with the kernel's sender credentials (SO_PASSCRED); "
          "root and the agent's own uid always count, anyone else is refused "
          "and logged. Anyone allowed can make any address relay");
ABSL_FLAG(std::vector<std::string>, notify_allow_gid, {},
          "groups (names or numbers) whose members, by primary group, may "
          "report logins on the notify socket (see --notify-allow-uid)");
ABSL_FLAG(std::string, key_style, "sendmail",
          "IPv6 key spelling in the map: sendmail (ipv6:full:form, what "
          "sendmail looks up) or canonical");
ABSL_FLAG(bool, nul_keys, false, "keys end with a NUL (Postfix, Exim)");
ABSL_FLAG(std::string, map_type, "hash", "Berkeley DB map type: hash or btree");
ABSL_FLAG(bool, map_fsync, false,
          "wait for the disk after every relayers.db write; without it "
          "writes reach the kernel (and every reader) at once, and the map "
          "is resynchronized from a snapshot after a reboot");
ABSL_FLAG(int64_t, max_queued_changes, 100000,
          "changes taken from the coordinator but not yet written to the "
          "map, at most: while the map cannot be written the agent stops "
          "reading there (the coordinator ends the stalled stream, and the "
          "agent catches up once the map is writable)");
ABSL_FLAG(std::string, never_relay, "",
          "CIDR,... whose local logins never reach the map or the "
          "coordinator (e.g. this site's server networks), on top of the "
          "built-in unspecified, broadcast and multicast ranges; give the "
          "coordinator the same list");
ABSL_FLAG(bool, quiet, false, "log warnings and errors only");
ABSL_FLAG(std::string, log_encoding, "text",
          "how this agent's own log lines are written to stderr (not "
          "--log-format, the format of the logs it reads): text, or json "
          "(one object a line with time, level, program, pid and message, "
          "for log shippers; docs/operations.md, \"Logs\")");
// notify subcommand
ABSL_FLAG(std::string, socket, "/run/relaysync/notify.sock",
          "notify: the agent's notify socket");
ABSL_FLAG(std::string, protocol, "unknown", "notify: imap, pop3 or unknown");
ABSL_FLAG(std::string, source, "", "notify: free-form origin, e.g. dovecot");
ABSL_FLAG(absl::Duration, notify_timeout, absl::Milliseconds(200),
          "notify: give up after this long (3/4 waiting for the agent's "
          "answer, the rest writing to the drop directory)");
ABSL_FLAG(std::string, drop_dir, "",
          "notify: where to leave the login if the agent cannot confirm it; "
          "default: --socket plus \".d\" (the agent's --notify-drop-dir)");
// check-config subcommand (agent/check_config_main.cc)
ABSL_FLAG(std::string, mta_user, "",
          "check-config: the user the MTA reads the maps as (name or number); "
          "default by kind: root (sendmail), postfix (postfix-*, cdb), "
          "Debian-exim (exim-*, text)");
ABSL_FLAG(std::string, notify_user, "",
          "check-config: the user Dovecot's post-login script runs as, who "
          "must reach --notify-socket; default: the first --notify-allow-uid, "
          "else the user running the check");
ABSL_FLAG(absl::Duration, check_timeout, absl::Seconds(5),
          "check-config: how long each coordinator has to answer");

namespace {

int Notify(const std::vector<std::string>& args) {
  // args: program, IP [USER]
  if (args.size() < 2 || args.size() > 3) {
    std::cerr << "usage: relaysync-agent notify --socket=PATH "
                 "[--protocol=imap|pop3] IP [USER]\n";
    return 2;
  }
  absl::StatusOr<relaysync::Address> address =
      relaysync::Address::Parse(args[1]);
  if (!address.ok()) {
    std::cerr << "relaysync-agent notify: " << address.status().message()
              << "\n";
    return 2;
  }
  auto protocol = relaysync::ParseProtocolName(absl::GetFlag(FLAGS_protocol));
  if (!protocol) {
    std::cerr << "relaysync-agent notify: invalid --protocol \""
              << absl::GetFlag(FLAGS_protocol) << "\": imap, pop3 or unknown\n";
    return 2;
  }
  relaysync::LocalLogin login;
  login.address = address->ToString();
  login.user = args.size() == 3 ? args[2] : "";
  login.protocol = *protocol;
  login.source = absl::GetFlag(FLAGS_source);
  // Exit 0 only once the login is safe: in the agent's spool, or in the
  // drop directory it drains.
  const std::string socket = absl::GetFlag(FLAGS_socket);
  std::string drop_dir = absl::GetFlag(FLAGS_drop_dir);
  if (drop_dir.empty()) drop_dir = relaysync::DefaultNotifyDropDir(socket);
  absl::Status s = relaysync::NotifyDurably(
      socket, drop_dir, login, absl::GetFlag(FLAGS_notify_timeout));
  if (!s.ok()) {
    std::cerr << "relaysync-agent notify: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

// `relaysync-agent test-log FILE`: 0 once the file is read, 2 for bad
// arguments or a file that cannot be read.
int TestLog(const std::vector<std::string>& args) {
  // args: program, FILE
  if (args.size() != 2) {
    std::cerr << "usage: relaysync-agent test-log [--log-format="
              << relaysync::LogFormatFlagValues() << "] FILE\n";
    return 2;
  }
  relaysync::TestLogOptions options;
  auto formats = relaysync::LogFormatsFromFlag(absl::GetFlag(FLAGS_log_format));
  if (!formats.ok()) {
    std::cerr << "relaysync-agent test-log: --log-format: "
              << formats.status().message() << "\n";
    return 2;
  }
  options.formats = *formats;
  auto never_relay = relaysync::NeverRelay::WithExtra(
      absl::GetFlag(FLAGS_never_relay), "--never-relay");
  if (!never_relay.ok()) {
    std::cerr << "relaysync-agent test-log: " << never_relay.status().message()
              << "\n";
    return 2;
  }
  options.never_relay = *never_relay;
  absl::Status s = relaysync::TestLogFile(args[1], options, std::cout);
  std::cout.flush();
  if (!s.ok()) {
    std::cerr << "relaysync-agent test-log: " << s.message() << "\n";
    return 2;
  }
  return 0;
}

// Set by the signal thread, waited for by RunAgent.
struct StopState {
  absl::Mutex mu;
  bool stop ABSL_GUARDED_BY(mu) = false;
  relaysync::Agent* running ABSL_GUARDED_BY(mu) = nullptr;  // for SIGHUP
};

int RunAgent(int argc, char** argv) {
  // glibc gives threads their own malloc arenas, up to 8 per CPU. Every
  // coordinator reconnect starts new stream threads, and memory an old one
  // freed in its arena is not reused by allocations in another: in the
  // chaos soak the agents' RSS grew 47 -> 95 MiB in 5 minutes while the
  // heap in use stayed at 10-18 MB. An agent is one busy thread at a time;
  // two arenas are plenty.
  mallopt(M_ARENA_MAX, 2);
  // A big snapshot passes through vectors of tens of megabytes. glibc
  // serves blocks that size with mmap (returned whole when freed) only up
  // to a threshold that it raises to the largest block freed so far, after
  // which they come from the heap and stay there: an agent of a million
  // entries kept 21 to 73 MiB of them, at random. A fixed threshold keeps
  // every block of 256 KiB or more in mmap.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  if (!relaysync::SetUpDaemonLogging("relaysync-agent",
                                     absl::GetFlag(FLAGS_quiet),
                                     absl::GetFlag(FLAGS_log_encoding))) {
    return 2;
  }
  relaysync::RouteGrpcLogs();
  relaysync::AgentOptions options;
  absl::StatusOr<relaysync::AgentFlags> flags =
      relaysync::ReadAgentFlags(argc, argv);
  if (!flags.ok()) {
    relaysync::LogError(flags.status().message());
    return 2;
  }
  if (flags->coordinators.empty()) {
    relaysync::LogError("--coordinator: required (HOST:PORT)");
    return 2;
  }
  options.coordinators = flags->coordinators;
  options.tls = flags->tls;
  if (absl::Status s =
          relaysync::ValidateTlsFiles(options.tls, relaysync::kAgentTlsFlags);
      !s.ok()) {
    relaysync::LogError(s.message());
    return 2;
  }
  if (options.tls.insecure) relaysync::LogWarning(relaysync::kInsecureWarning);
  if (absl::GetFlag(FLAGS_max_queued_changes) < 1) {
    relaysync::LogError("--max-queued-changes: must be at least 1");
    return 2;
  }
  options.max_queued_changes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_changes));
  options.host_id = flags->host_id;
  if (options.host_id.empty() ||
      options.host_id.find('/') != std::string::npos) {
    relaysync::LogError("--host_id: must be non-empty and contain no '/'");
    return 2;
  }
  options.outputs = flags->outputs;
  options.db_path = flags->db_path;
  options.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.notify_socket = absl::GetFlag(FLAGS_notify_socket);
  options.notify_drop_dir = absl::GetFlag(FLAGS_notify_drop_dir);
  unsigned mode = 0;
  const std::string mode_text = absl::GetFlag(FLAGS_notify_socket_mode);
  char* end = nullptr;
  mode = static_cast<unsigned>(std::strtoul(mode_text.c_str(), &end, 8));
  if (mode_text.empty() || *end != '\0' || mode > 0777) {
    relaysync::LogError("--notify_socket_mode: \"", mode_text,
                        "\" is not an octal mode like 0660");
    return 2;
  }
  options.notify_socket_mode = static_cast<mode_t>(mode);
  options.watch_logs = absl::GetFlag(FLAGS_watch_log);
  options.watch_syslogs = absl::GetFlag(FLAGS_watch_syslog);
  auto formats = relaysync::LogFormatsFromFlag(absl::GetFlag(FLAGS_log_format));
  if (!formats.ok()) {
    relaysync::LogError("--log-format: ", formats.status().message());
    return 2;
  }
  options.log_formats = *formats;
  const bool has_own_log = std::any_of(formats->begin(), formats->end(),
                                       [](const relaysync::LogFormat* f) {
                                         return f->classify_own_log != nullptr;
                                       });
  if (!options.watch_logs.empty() && !has_own_log) {
    // Every line would be ignored as syslog-form: say so now.
    relaysync::LogError(
        "--watch-log with --log-format=", absl::GetFlag(FLAGS_log_format),
        ": that daemon logs only through syslog, whose lines any local user "
        "can forge (logger -t NAME); give its syslog file to --watch-syslog "
        "to accept that, or use the notify socket");
    return 2;
  }
  options.watch_journal = absl::GetFlag(FLAGS_watch_journal);
  options.journal_units = absl::GetFlag(FLAGS_journal_unit);
  options.journal_executables = absl::GetFlag(FLAGS_journal_exe);
  options.journal_directory = absl::GetFlag(FLAGS_journal_directory);
  if (!options.watch_journal &&
      (!options.journal_units.empty() || !options.journal_executables.empty() ||
       !options.journal_directory.empty())) {
    relaysync::LogError(
        "--journal-unit, --journal-exe and --journal-directory need "
        "--watch-journal");
    return 2;
  }
  options.session_refresh = absl::GetFlag(FLAGS_session_refresh);
  options.max_session_age = absl::GetFlag(FLAGS_max_session_age);
  if (absl::GetFlag(FLAGS_max_sessions) < 0 ||
      options.session_refresh < absl::ZeroDuration() ||
      options.max_session_age <= absl::ZeroDuration()) {
    relaysync::LogError(
        "--max-sessions, --session-refresh and --max-session-age must not be "
        "negative (--max-session-age not zero)");
    return 2;
  }
  options.max_sessions = static_cast<size_t>(absl::GetFlag(FLAGS_max_sessions));
  options.notify_socket_group = absl::GetFlag(FLAGS_notify_socket_group);
  options.notify_allow_users = absl::GetFlag(FLAGS_notify_allow_uid);
  options.notify_allow_groups = absl::GetFlag(FLAGS_notify_allow_gid);
  auto style = relaysync::ParseKeyStyle(absl::GetFlag(FLAGS_key_style));
  if (!style.ok()) {
    relaysync::LogError("--key_style: ", style.status().message());
    return 2;
  }
  options.key_style = *style;
  options.map_options.nul_terminated_keys = absl::GetFlag(FLAGS_nul_keys);
  const std::string map_type = absl::GetFlag(FLAGS_map_type);
  if (map_type == "btree") {
    options.map_options.type = relaysync::MapOptions::Type::kBtree;
  } else if (map_type != "hash") {
    relaysync::LogError("--map_type: \"", map_type, "\": hash or btree");
    return 2;
  }
  options.map_fsync = absl::GetFlag(FLAGS_map_fsync);
  auto never_relay = relaysync::NeverRelay::WithExtra(
      absl::GetFlag(FLAGS_never_relay), "--never-relay");
  if (!never_relay.ok()) {
    relaysync::LogError(never_relay.status().message());
    return 2;
  }
  options.never_relay = *never_relay;
  if (options.notify_socket.empty() && options.watch_logs.empty() &&
      options.watch_syslogs.empty() && !options.watch_journal) {
    relaysync::LogWarning(
        "no --notify_socket, --watch_log or --watch_journal: this agent "
        "only mirrors the cluster state");
  }

  StopState state;
  relaysync::HandleStopSignals(
      [&](int sig) {
        relaysync::LogInfo("signal ", sig, ": shutting down");
        absl::MutexLock l(&state.mu);
        state.stop = true;
      },
      [&] {
        absl::MutexLock l(&state.mu);
        if (state.running != nullptr) {
          state.running->Reload();
        } else {
          relaysync::LogInfo("SIGHUP: not started yet, nothing to reload");
        }
      })
      .detach();
  auto agent = relaysync::Agent::Start(options, relaysync::SystemClock::Get());
  if (!agent.ok()) {
    relaysync::LogError(agent.status().message());
    return 1;
  }
  absl::MutexLock l(&state.mu);
  state.running = agent->get();
  state.mu.Await(absl::Condition(&state.stop));
  state.running = nullptr;
  (*agent)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  relaysync::SetFlagHelpFile("agent/main.cc", "relaysync-agent");
  absl::SetProgramUsageMessage(
      "\n  relaysync-agent --coordinator=HOST:PORT --tls-ca=F --tls-cert=F "
      "--tls-key=F --host-id=NAME --db=PATH --spool-dir=DIR "
      "[--notify-socket=PATH] [--watch-log=PATH]\n"
      "  relaysync-agent notify --socket=PATH [--protocol=imap|pop3] IP "
      "[USER]\n"
      "  relaysync-agent test-log [--log-format=FORMAT] FILE\n"
      "  relaysync-agent check-config [the agent's flags] [--mta-user=USER] "
      "[--notify-user=USER]\n\n"
      "Captures POP/IMAP logins on this host, shares them through the "
      "relaysync coordinator and keeps the local relayers.db in sync. Flags "
      "may be spelled with dashes or underscores (--spool-dir, --spool_dir). "
      "Flags may also come from a configuration file, "
      "--flagfile=/etc/relaysync/agent.flags: one --flag=value a line, '#' "
      "starts a comment line; flags after it override it (example: "
      "deploy/config/agent.flags). "
      "See docs/operations.md.");
  if (argc >= 2 && std::string(argv[1]) == "notify") {
    return Notify(relaysync::ParseFlags(argc - 1, argv + 1));
  }
  if (argc >= 2 && std::string(argv[1]) == "test-log") {
    return TestLog(relaysync::ParseFlags(argc - 1, argv + 1));
  }
  if (argc >= 2 && std::string(argv[1]) == "check-config") {
    return relaysync::CheckConfigMain(argc - 1, argv + 1);
  }
  std::vector<std::string> args = relaysync::ParseFlags(argc, argv);
  relaysync::InitProcess();
  if (args.size() > 1) {
    std::cerr << "relaysync-agent: unexpected argument \"" << args[1]
              << "\" (see --help)\n";
    return 2;
  }
  return RunAgent(argc, argv);
}
