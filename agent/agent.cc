#include "agent/agent.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_state.h"
#include "agent/coordinator_client.h"
#include "agent/dovecot_log_source.h"
#include "agent/journal_source.h"
#include "agent/local_expiry.h"
#include "agent/local_recorder.h"
#include "agent/map_outputs.h"
#include "agent/materializer.h"
#include "agent/metered_map.h"
#include "agent/notify_drop_dir.h"
#include "agent/notify_senders.h"
#include "agent/notify_source.h"
#include "agent/private_dir.h"
#include "agent/session_tracker.h"
#include "agent/spool.h"
#include "agent/sync_signal.h"
#include "common/logging.h"
#include "common/never_relay_gate.h"
#include "metrics/metrics.h"

namespace relaysync {
namespace {

// The notify socket's settings, with users and groups looked up. Errors
// name the flag.
absl::StatusOr<NotifySource::Options> NotifyOptions(
    const AgentOptions& options) {
  NotifySource::Options o;
  o.socket_path = options.notify_socket;
  o.mode = options.notify_socket_mode;
  if (!options.notify_socket_group.empty()) {
    absl::StatusOr<gid_t> gid = LookUpGroup(options.notify_socket_group);
    if (!gid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--notify-socket-group: ", gid.status().message()));
    }
    o.group = *gid;
  }
  absl::StatusOr<NotifySenders> senders = NotifySenders::Make(
      options.notify_allow_users, options.notify_allow_groups,
      options.notify_socket_group);
  if (!senders.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--notify-allow-uid/--notify-allow-gid: ", senders.status().message()));
  }
  o.senders = *senders;
  return o;
}

// The journal source's settings: the units and executables given, or the
// units of the formats' daemons. Errors name the flags.
absl::StatusOr<JournalSource::Options> JournalOptions(
    const AgentOptions& options, const Clock* clock) {
  JournalSource::Options o;
  o.directory = options.journal_directory;
  o.units = options.journal_units;
  o.executables = options.journal_executables;
  if (o.units.empty() && o.executables.empty()) {
    o.units = JournalSource::DefaultUnits(options.log_formats);
  }
  o.state_path = options.spool_dir + "/journal.state";
  o.formats = options.log_formats;
  o.clock = clock;
  if (absl::Status s = JournalSource::Validate(o); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--watch-journal: ", s.message(),
        o.units.empty() && o.executables.empty()
            ? " (this --log-format has no unit of its own; qpopper and "
              "UW-IMAP run from inetd: give --journal-exe)"
            : ""));
  }
  LogInfo("--watch-journal: trusting the entries of ",
          absl::StrJoin(o.units, ", "),
          o.units.empty() || o.executables.empty() ? "" : ", ",
          absl::StrJoin(o.executables, ", "));
  return o;
}

// The maps to keep: --db (sendmail, as configured) first, then each
// --output; one map is written directly, several through MapOutputs.
// Sets `key_style` to the spelling the materializer must write.
absl::StatusOr<std::unique_ptr<MapWriter>> OpenMaps(
    const AgentOptions& options, const MapOptions& map_options,
    KeyStyle* key_style) {
  std::vector<MapOutputs::Output> maps;
  if (!options.db_path.empty()) {
    absl::StatusOr<std::unique_ptr<MapWriter>> db =
        OpenMap(MapKind::kSendmail, options.db_path,
                RelayersDb::Mode::kReadWrite, map_options);
    if (!db.ok()) return db.status();
    maps.push_back({MapOutput{MapKind::kSendmail, options.db_path}.ToString(),
                    std::move(*db), options.key_style});
  }
  for (const MapOutput& output : options.outputs) {
    // --nul-keys and --map-type are for --db only.
    MapOptions o = map_options;
    o.type = MapOptions::Type::kHash;
    o.nul_terminated_keys = false;
    absl::StatusOr<std::unique_ptr<MapWriter>> map =
        OpenMap(output.kind, output.path, RelayersDb::Mode::kReadWrite, o);
    if (!map.ok()) return map.status();
    maps.push_back(
        {output.ToString(), std::move(*map), MapKindKeyStyle(output.kind)});
  }
  if (maps.empty()) {
    return absl::InvalidArgumentError("no relay map: give --db or --output");
  }
  if (maps.size() == 1) {
    *key_style = maps[0].key_style;
    return std::move(maps[0].map);
  }
  *key_style = KeyStyle::kCanonical;
  return std::unique_ptr<MapWriter>(std::make_unique<MapOutputs>(
      std::move(maps), options.map_retry_min, options.map_retry_max));
}

}  // namespace

struct Agent::Impl {
  // First: the last to go, so every handle stays valid while the rest
  // stops. Null without metrics_listen.
  std::unique_ptr<metrics::Registry> metrics;
  metrics::Counter logins;  // recorded locally
  metrics::Gauge connected;
  metrics::Gauge applied_version;
  metrics::Gauge spool_depth;
  metrics::Gauge spool_oldest_age;
  metrics::Gauge map_entries;
  const Clock* clock = nullptr;
  bool insecure = false;                       // no TLS files to re-read
  std::vector<const DovecotLogSource*> tails;  // in `sources`
  std::unique_ptr<MapWriter> map;
  std::unique_ptr<Materializer> materializer;
  std::unique_ptr<Spool> spool;
  std::unique_ptr<AgentStateFile> state_file;
  // Wakes the client when logins are spooled; the client's Stop() stops it.
  SyncSignal signal;
  std::unique_ptr<LocalRecorder> recorder;
  std::unique_ptr<CoordinatorClient> client;
  std::unique_ptr<LocalExpiry> expiry;  // uses the client and materializer
  std::vector<std::unique_ptr<EventSource>> sources;
  std::unique_ptr<NeverRelayGate> gate;
  bool stopped = false;

  // False (logged, counted) for an address that is never relayed.
  bool Admit(const LocalLogin& login) {
    absl::StatusOr<Address> address = Address::Parse(login.address);
    return address.ok() &&
           gate->Admit(*address,
                       absl::StrCat("login of \"", absl::CHexEscape(login.user),
                                    "\" from ", absl::CHexEscape(login.source)))
               .ok();
  }

  // Called by every source, from its own thread.
  // OK once the logins are in the spool (or were refused by the gate).
  absl::Status OnLogins(const std::vector<LocalLogin>& all) {
    // Never-relay addresses reach neither the spool nor the map.
    std::vector<LocalLogin> logins;
    logins.reserve(all.size());
    for (const LocalLogin& login : all) {
      if (Admit(login)) logins.push_back(login);
    }
    // Spool, then map (agent/local_recorder.h).
    absl::Status s = recorder->Record(logins);
    if (s.ok()) this->logins.Increment(static_cast<double>(logins.size()));
    return s;
  }

  // Registers the metrics read at scrape time (metrics on only).
  void ServeGauges() {
    metrics::Registry* r = metrics.get();
    logins = r->AddCounter("relaysync_agent_logins_total",
                           "Logins seen on this host and recorded (spool and "
                           "map), from every source.");
    connected = r->AddGauge(
        "relaysync_agent_coordinator_connected",
        "1 while a coordinator answers this agent's stream, else 0.");
    applied_version =
        r->AddGauge("relaysync_agent_applied_version",
                    "The store version applied to the map (0 before the first "
                    "snapshot).");
    spool_depth = r->AddGauge(
        "relaysync_agent_spool_logins",
        "Logins in the spool: not yet acknowledged by a coordinator.");
    spool_oldest_age = r->AddGauge(
        "relaysync_agent_spool_oldest_age_seconds",
        "Age of the oldest login in the spool; 0 when it is empty.");
    map_entries =
        r->AddGauge("relaysync_agent_map_entries", "Entries in the relay map.");
    r->OnScrape([this] { UpdateGauges(); });
  }

  void UpdateGauges() {
    connected.Set(client->connected() ? 1 : 0);
    applied_version.Set(static_cast<double>(client->applied_version()));
    spool_depth.Set(static_cast<double>(spool->pending_count()));
    const std::vector<SpooledLogin> oldest = spool->Pending(1);
    spool_oldest_age.Set(
        oldest.empty()
            ? 0
            : static_cast<double>(std::max<int64_t>(
                  0, clock->NowSeconds() - oldest.front().login.login_time)));
    map_entries.Set(static_cast<double>(materializer->entries()));
    std::vector<std::pair<std::string, double>> lag;
    for (const DovecotLogSource* tail : tails) {
      lag.emplace_back(tail->log_path(), static_cast<double>(tail->LagBytes()));
    }
    metrics->ReplaceGauges("relaysync_agent_log_tail_lag_bytes",
                           "Bytes of each watched log (path) not read yet.",
                           "path", lag);
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() { Stop(); }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Start(const AgentOptions& options,
                                                    const Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->clock = clock;
  impl->insecure = options.tls.insecure;
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::Registry>> registry =
        metrics::Registry::Serve(options.metrics_listen, "--metrics-listen");
    if (!registry.ok()) return registry.status();
    impl->metrics = std::move(*registry);
  }
  impl->gate = std::make_unique<NeverRelayGate>(options.never_relay);
  absl::Status private_dir = MakePrivateDirectory(options.spool_dir);
  if (!private_dir.ok()) return private_dir;
  // Map writes reach the kernel at once (every reader sees them) but wait
  // for the disk only with --map-fsync: after a crash of the machine the
  // map is rebuilt from the spool and a snapshot (below), so a disk flush
  // per write buys nothing. Where the boot cannot be told, every write is
  // synced.
  const std::string boot_id = CurrentBootId();
  MapOptions map_options = options.map_options;
  map_options.sync_to_disk = options.map_fsync || boot_id.empty();
  map_options.cache_bytes = kAgentMapCacheBytes;
  KeyStyle key_style = options.key_style;
  absl::StatusOr<std::unique_ptr<MapWriter>> map =
      OpenMaps(options, map_options, &key_style);
  if (!map.ok()) return map.status();
  impl->map = std::move(*map);
  if (impl->metrics != nullptr) {
    impl->map =
        std::make_unique<MeteredMap>(std::move(impl->map), impl->metrics.get());
  }

  impl->state_file = std::make_unique<AgentStateFile>(options.spool_dir);
  absl::StatusOr<AgentState> state = impl->state_file->Load();
  if (absl::IsDataLoss(state.status())) {
    // Damaged (a crash mid-write on a file system that does not order
    // rename after data): the map's version is unknown, and a snapshot
    // puts it right.
    LogWarning(state.status().message(),
               "; resynchronizing the map from a snapshot");
    state = AgentState{};
  }
  if (!state.ok()) return state.status();
  if (state->boot_id != boot_id &&
      (state->applied_version != 0 || !state->store_epoch.empty())) {
    // Writes of the last boot may not have reached the disk: the saved
    // version is no proof of what the map holds. A snapshot reconciles it.
    LogInfo(
        "the machine restarted since the relay map was last written: "
        "resynchronizing it from a snapshot");
    AgentState fresh;
    fresh.expire_after_seconds = state->expire_after_seconds;  // still true
    *state = fresh;
  }
  state->boot_id = boot_id;

  impl->materializer =
      std::make_unique<Materializer>(impl->map.get(), key_style, clock);
  // The last policy the coordinator told, before anything reaches the map:
  // what expired while the agent was down must not relay again.
  absl::Status s = impl->materializer->SetExpireAfter(
      absl::Seconds(state->expire_after_seconds.value_or(0)));
  if (!s.ok()) return s;
  s = impl->materializer->Load();
  if (!s.ok()) return s;

  absl::StatusOr<std::unique_ptr<Spool>> spool =
      Spool::Open(options.spool_dir, options.host_id);
  if (!spool.ok()) return spool.status();
  impl->spool = std::move(*spool);
  // Logins spooled before a restart still relay here until acknowledged.
  std::vector<StateEntry> pending;
  for (const SpooledLogin& p : impl->spool->Pending()) {
    // Spooled by an older version: the coordinator drops it too.
    if (!impl->Admit(p.login)) continue;
    pending.push_back(StateEntry{p.login.address, p.login.login_time});
  }
  s = impl->materializer->AddLocal(pending);
  if (!s.ok()) return s;
  if (absl::StatusOr<size_t> expired = impl->materializer->Expire();
      !expired.ok()) {
    return expired.status();
  }

  CoordinatorClientOptions client_options;
  client_options.coordinators = options.coordinators;
  client_options.tls = options.tls;
  client_options.max_queued_changes = options.max_queued_changes;
  client_options.host_id = options.host_id;
  client_options.map_retry_min = options.map_retry_min;
  client_options.map_retry_max = options.map_retry_max;
  impl->recorder = std::make_unique<LocalRecorder>(
      impl->spool.get(), impl->materializer.get(), &impl->signal);
  impl->client = std::make_unique<CoordinatorClient>(
      client_options, impl->spool.get(), impl->materializer.get(),
      impl->recorder.get(), &impl->signal, impl->state_file.get(), *state);
  impl->client->Start();
  impl->expiry = std::make_unique<LocalExpiry>(impl->materializer.get(),
                                               impl->client.get(), clock);
  impl->expiry->Start();

  Impl* raw = impl.get();
  auto sink = [raw](const std::vector<LocalLogin>& logins) {
    return logins.empty() ? absl::OkStatus() : raw->OnLogins(logins);
  };
  if (!options.notify_socket.empty()) {
    absl::StatusOr<NotifySource::Options> o = NotifyOptions(options);
    if (!o.ok()) return o.status();
    o->clock = clock;
    LogInfo("notify socket ", o->socket_path, ": logins accepted from ",
            o->senders.ToString());
    NotifyDropDir::Options drop;
    drop.dir = options.notify_drop_dir.empty()
                   ? DefaultNotifyDropDir(options.notify_socket)
                   : options.notify_drop_dir;
    drop.socket_mode = o->mode;
    drop.group = o->group;
    drop.senders = o->senders;
    drop.clock = clock;
    // The drop directory first: logins left there while the agent was down
    // go before new ones.
    impl->sources.push_back(std::make_unique<NotifyDropDir>(drop));
    impl->sources.push_back(std::make_unique<NotifySource>(*o));
  }
  // Open sessions of the watched logs: a source like the others, whose
  // logins are refreshes. Started first, stopped first.
  SessionTracker* sessions = nullptr;
  if (options.max_sessions > 0 &&
      (!options.watch_logs.empty() || !options.watch_syslogs.empty() ||
       options.watch_journal)) {
    SessionTracker::Options o;
    o.refresh = options.session_refresh;
    Materializer* materializer = impl->materializer.get();
    o.expire_after = [materializer] { return materializer->ExpireAfter(); };
    o.max_sessions = options.max_sessions;
    o.max_age = options.max_session_age;
    o.clock = clock;
    auto tracker = std::make_unique<SessionTracker>(std::move(o));
    sessions = tracker.get();
    impl->sources.insert(impl->sources.begin(), std::move(tracker));
  }
  for (size_t i = 0; i < options.watch_logs.size(); ++i) {
    DovecotLogSource::Options o;
    o.sessions = sessions;
    o.log_path = options.watch_logs[i];
    o.state_path = absl::StrCat(options.spool_dir, "/tail-", i, ".state");
    o.formats = options.log_formats;
    o.clock = clock;
    auto source = std::make_unique<DovecotLogSource>(o);
    impl->tails.push_back(source.get());
    impl->sources.push_back(std::move(source));
  }
  for (size_t i = 0; i < options.watch_syslogs.size(); ++i) {
    DovecotLogSource::Options o;
    o.log_path = options.watch_syslogs[i];
    o.state_path =
        absl::StrCat(options.spool_dir, "/tail-syslog-", i, ".state");
    o.formats = options.log_formats;
    o.trust_syslog = true;
    o.clock = clock;
    o.sessions = sessions;
    std::string programs;
    for (const LogFormat* f : o.formats) {
      absl::StrAppend(&programs, programs.empty() ? "" : ", ", f->programs);
    }
    LogWarning("--watch-syslog ", o.log_path, ": trusting the login lines of ",
               programs,
               "; any local user can write such a line (logger -t NAME) and "
               "make any address relay");
    auto source = std::make_unique<DovecotLogSource>(o);
    impl->tails.push_back(source.get());
    impl->sources.push_back(std::move(source));
  }
  if (options.watch_journal) {
    absl::StatusOr<JournalSource::Options> o = JournalOptions(options, clock);
    if (!o.ok()) return o.status();
    o->sessions = sessions;
    impl->sources.push_back(std::make_unique<JournalSource>(*o));
  }
  if (impl->metrics != nullptr) {
    impl->ServeGauges();
    LogInfo("serving metrics on ", options.metrics_listen, " (port ",
            impl->metrics->port(), ", /metrics, no authentication)");
  }
  auto agent = std::unique_ptr<Agent>(new Agent(std::move(impl)));
  for (auto& source : agent->impl_->sources) {
    s = source->Start(sink);
    if (!s.ok()) return s;  // ~Agent stops what started
    LogInfo("watching ", source->Name());
  }
  std::vector<std::string> maps;
  if (!options.db_path.empty()) maps.push_back(options.db_path);
  for (const MapOutput& o : options.outputs) maps.push_back(o.ToString());
  LogInfo("agent ", options.host_id, " writing ", absl::StrJoin(maps, ", "),
          ", spool ", options.spool_dir, ", ",
          agent->impl_->spool->pending_count(), " login(s) pending");
  return agent;
}

void Agent::Reload() {
  const std::string logs =
      impl_->tails.empty() ? ""
                           : "; the watched logs follow rotation by themselves";
  if (impl_->insecure) {
    LogInfo("SIGHUP: nothing to reload (--insecure: no TLS files)", logs);
    return;
  }
  LogInfo(
      "SIGHUP: reconnecting to the coordinator with the TLS files as they "
      "are now (--tls-cert, --tls-key, --tls-ca)",
      logs);
  impl_->client->Reconnect();
}

void Agent::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // No scrape reads the spool, the map or the client from here on.
  if (impl_->metrics != nullptr) impl_->metrics->ClearOnScrape();
  for (auto& source : impl_->sources) source->Stop();
  impl_->expiry->Stop();
  impl_->client->Stop();
}

}  // namespace relaysync
