#include "cli/vsmtprelay.h"

#include <pwd.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "backends/map/map_kind.h"
#include "cli/client_tls.h"
#include "cli/coordinator_backend.h"
#include "cli/entry_format.h"
#include "cli/local_backend.h"
#include "common/address.h"
#include "common/never_relay.h"
#include "common/ticks.h"
#include "common/version.h"
#include "rpc/endpoints.h"

namespace relaysync {

const char kVsmtprelayUsage[] =
    "vsmtprelay 1.1.0 usage (optional items in []):\n"
    "% vsmtprelay command [arg] [...]\n"
    "where \"command [arg] [...]\" can be one of the following:\n"
    "\"add ip [ticks]\" insert address with current timestamp (or ticks)\n"
    "\"delete ip [...]\" remove specified address(es)\n"
    "\"expire [n]\" expire all old (or older than n minutes) entries\n"
    "\"list [n]\" list all old (or older than n minutes) entries\n"
    "\"dump\" list every entry, including the future timestamped\n";

namespace {

const char kHelp[] =
    "\n"
    "relaysync's vsmtprelay, compatible with vsmtprelay 1.1.0.\n"
    "\n"
    "Options (before or after the command):\n"
    "  --db=PATH           relay map to use (default: $VSMTPRELAY_DB, else\n"
    "                      ~/etc/relayers.db)\n"
    "  --coordinator=HOST:PORT[,HOST:PORT...]\n"
    "                      work cluster-wide through a relaysync coordinator\n"
    "                      instead of a local file (default:\n"
    "                      $VSMTPRELAY_COORDINATOR); tried in order\n"
    "  --timeout=SECONDS   per-request deadline with --coordinator (10)\n"
    "  --tls-ca=FILE       with --coordinator: the CA that signed the\n"
    "                      coordinator's certificate ($VSMTPRELAY_TLS_CA)\n"
    "  --tls-cert=FILE     your client certificate ($VSMTPRELAY_TLS_CERT)\n"
    "  --tls-key=FILE      its private key ($VSMTPRELAY_TLS_KEY); without\n"
    "                      the three, ca.pem, cert.pem and key.pem in\n"
    "                      ~/.config/relaysync are used when present\n"
    "  --tls-server-name=NAME  the name in the coordinator's certificate,\n"
    "                      when connecting by another name or an IP\n"
    "  --insecure          talk plaintext to a coordinator started with\n"
    "                      --insecure ($VSMTPRELAY_INSECURE=1)\n"
    "  --kind=KIND         the map's format, as the agent's --output writes\n"
    "                      it: sendmail (default), postfix-hash,\n"
    "                      postfix-lmdb, exim-dbm, exim-dbmnz, cdb or text\n"
    "                      (docs/maps.md)\n"
    "  --key-style=STYLE   how add writes IPv6 keys: sendmail\n"
    "                      (ipv6:fd00:db8:0:0:0:0:0:5, default with\n"
    "                      --kind=sendmail: what sendmail looks up) or\n"
    "                      canonical (fd00:db8::5, default with\n"
    "                      the postfix kinds, cdb or text) or exim\n"
    "                      (fd00.0db8.0000.0000.0000.0000.0000.0005, default\n"
    "                      with the exim kinds); add replaces and delete\n"
    "                      removes the address in any spelling\n"
    "  --nul-keys          keys end with a NUL byte (--kind=sendmail only)\n"
    "  --btree             the map is a Berkeley DB btree, not a hash\n"
    "                      (--kind=sendmail only)\n"
    "  --attribution       list and dump with --coordinator: before each\n"
    "                      entry, a comment line \"# attribution: host=HOST\n"
    "                      user=USER\" naming who granted it (bytes outside\n"
    "                      '!'..'~', and '\\', as \\xHH), or \"# attribution:\n"
    "                      unknown\"; a local map keeps none (exit 2)\n"
    "  --max-lag=N         status with --coordinator: mark an agent BEHIND\n"
    "                      when it is more than N store versions behind\n"
    "                      (default 1000)\n"
    "  --max-silence=DURATION  status with --coordinator: mark an agent\n"
    "                      DISCONNECTED when its stream ended longer ago\n"
    "                      than this (default 60s; e.g. 90s, 5m)\n"
    "  --help              this text\n"
    "  --version           print the version\n"
    "\n"
    "relaysync adds one command: \"status\" describes the map, or with\n"
    "--coordinator the cluster: store, version, and each agent of that\n"
    "coordinator (connected, or disconnected in the last 24 h) with its\n"
    "lag in versions and when it was last heard from; agents behind are\n"
    "marked \"*\". Coordinators sharing a Redis store each list only their\n"
    "own agents: ask every one.\n"
    "\n"
    "IP addresses are IPv4 dotted quads (10.11.12.13) or IPv6. ticks are\n"
    "seconds since the epoch, exactly (0 is 1 January 1970), on a file as\n"
    "through the coordinator; n is a count of minutes. delete takes any\n"
    "number of addresses (the coordinator gets them 1,000 per request).\n"
    "list and dump show keys as stored, in a form that makemap(8)\n"
    "rebuilds: vsmtprelay dump | makemap hash FILE.db\n"
    "\n"
    "Exit status: 0 success, 1 failure (unreadable map, address not present,\n"
    "no coordinator answered), 2 usage error (bad command, address, n or\n"
    "ticks, or an address that is never relayed: unspecified, broadcast,\n"
    "multicast, or the coordinator's --never-relay), 3 status answered but\n"
    "an agent is marked (for cron and monitoring checks). See vsmtprelay(1).\n";

struct Options {
  std::optional<std::string> db;
  std::optional<std::string> coordinator;
  ClientTlsOptions tls;
  int64_t timeout_seconds = 10;
  MapKind kind = MapKind::kSendmail;
  // New keys are what the kind's reader looks up, as the agent writes them,
  // unless --key-style says otherwise.
  std::optional<KeyStyle> key_style;
  MapOptions map;
  bool attribution = false;
  AgentLimits agent_limits;        // status with --coordinator
  std::vector<std::string> words;  // command and its arguments
};

// Splits options from the command words. Returns an exit status when the
// invocation is already complete (--help, --version, a bad option).
std::optional<int> ParseOptions(const std::vector<std::string>& args,
                                Options* opts, std::ostream& out,
                                std::ostream& err) {
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_words || !absl::StartsWith(arg, "--")) {
      opts->words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_words = true;
      continue;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= args.size()) {
        err << "vsmtprelay: option " << name << " needs a value\n";
        return false;
      }
      value = args[++i];
      return true;
    };
    if (name == "--help") {
      out << kVsmtprelayUsage << kHelp;
      return kExitOk;
    } else if (name == "--version") {
      out << VersionLine("vsmtprelay")
          << ", compatible with vsmtprelay 1.1.0\n";
      return kExitOk;
    } else if (name == "--db") {
      if (!take_value()) return kExitUsage;
      if (value.empty()) {
        err << "vsmtprelay: --db needs a path\n";
        return kExitUsage;
      }
      opts->db = value;
    } else if (name == "--coordinator") {
      if (!take_value()) return kExitUsage;
      opts->coordinator = value;
    } else if (name == "--timeout") {
      if (!take_value()) return kExitUsage;
      if (!absl::SimpleAtoi(value, &opts->timeout_seconds) ||
          opts->timeout_seconds < 1) {
        err << "vsmtprelay: invalid --timeout \"" << value
            << "\": expected whole seconds >= 1\n";
        return kExitUsage;
      }
    } else if (name == "--tls-ca" || name == "--tls-cert" ||
               name == "--tls-key" || name == "--tls-server-name") {
      if (!take_value()) return kExitUsage;
      if (value.empty()) {
        err << "vsmtprelay: " << name << " needs a value\n";
        return kExitUsage;
      }
      std::optional<std::string>* field =
          name == "--tls-ca"     ? &opts->tls.ca
          : name == "--tls-cert" ? &opts->tls.cert
          : name == "--tls-key"  ? &opts->tls.key
                                 : &opts->tls.server_name;
      *field = value;
    } else if (name == "--insecure" && !has_value) {
      opts->tls.insecure = true;
    } else if (name == "--key-style") {
      if (!take_value()) return kExitUsage;
      absl::StatusOr<KeyStyle> style = ParseKeyStyle(value);
      if (!style.ok()) {
        err << "vsmtprelay: " << style.status().message() << "\n";
        return kExitUsage;
      }
      opts->key_style = *style;
    } else if (name == "--kind") {
      if (!take_value()) return kExitUsage;
      absl::StatusOr<MapKind> kind = ParseMapKind(value);
      if (!kind.ok()) {
        err << "vsmtprelay: --kind: " << kind.status().message() << "\n";
        return kExitUsage;
      }
      opts->kind = *kind;
    } else if (name == "--nul-keys" && !has_value) {
      opts->map.nul_terminated_keys = true;
    } else if (name == "--btree" && !has_value) {
      opts->map.type = MapOptions::Type::kBtree;
    } else if (name == "--max-lag") {
      if (!take_value()) return kExitUsage;
      if (!absl::SimpleAtoi(value, &opts->agent_limits.max_lag)) {
        err << "vsmtprelay: invalid --max-lag \"" << value
            << "\": expected a whole number of versions\n";
        return kExitUsage;
      }
    } else if (name == "--max-silence") {
      if (!take_value()) return kExitUsage;
      if (!absl::ParseDuration(value, &opts->agent_limits.max_silence) ||
          opts->agent_limits.max_silence < absl::ZeroDuration()) {
        err << "vsmtprelay: invalid --max-silence \"" << value
            << "\": expected a duration such as 60s or 5m\n";
        return kExitUsage;
      }
    } else if (name == "--attribution" && !has_value) {
      opts->attribution = true;
    } else {
      err << "vsmtprelay: unknown option " << arg << "\n" << kVsmtprelayUsage;
      return kExitUsage;
    }
  }
  return std::nullopt;
}

std::string HomeDir(const CliContext& ctx) {
  if (auto env = ctx.getenv("HOME"); env && !env->empty()) return *env;
  if (const struct passwd* pw = getpwuid(getuid()); pw != nullptr) {
    return pw->pw_dir;
  }
  return "";
}

std::string DefaultDbPath(const CliContext& ctx) {
  if (auto env = ctx.getenv("VSMTPRELAY_DB"); env && !env->empty()) {
    return *env;
  }
  return absl::StrCat(HomeDir(ctx), "/etc/relayers.db");
}

// Parses the optional minutes argument of expire/list into a cutoff.
bool ParseMinutes(const std::vector<std::string>& words, int64_t now,
                  int64_t* cutoff, std::ostream& err) {
  int64_t minutes = 0;
  if (words.size() == 2) {
    const std::string& n = words[1];
    bool digits = !n.empty() && n.size() <= 12;
    for (char c : n) digits = digits && absl::ascii_isdigit(c);
    if (!digits || !absl::SimpleAtoi(n, &minutes)) {
      err << "vsmtprelay: invalid n \"" << n
          << "\": expected a whole number of minutes\n";
      return false;
    }
  }
  *cutoff = now - minutes * 60;
  return true;
}

int Fail(const absl::Status& status, std::ostream& err) {
  err << "vsmtprelay: " << status.message() << "\n";
  return kExitFailure;
}

int UsageError(std::ostream& err) {
  err << kVsmtprelayUsage;
  return kExitUsage;
}

}  // namespace

int RunVsmtprelay(const std::vector<std::string>& args, const CliContext& ctx,
                  std::ostream& out, std::ostream& err) {
  Options opts;
  if (std::optional<int> done = ParseOptions(args, &opts, out, err)) {
    return *done;
  }

  const std::vector<std::string>& w = opts.words;
  if (w.empty()) return UsageError(err);
  const std::string& cmd = w[0];
  const int64_t now = ctx.clock->NowSeconds();

  // Validate every argument before touching the map.
  std::vector<Address> addresses;
  std::optional<int64_t> ticks;  // add without ticks: now
  int64_t cutoff = now;
  bool writes;
  if (cmd == "add") {
    if (w.size() < 2 || w.size() > 3) return UsageError(err);
    writes = true;
    if (w.size() == 3) {
      absl::StatusOr<int64_t> t = ParseTicks(w[2], "ticks");
      if (!t.ok()) {
        err << "vsmtprelay: " << t.status().message() << "\n";
        return kExitUsage;
      }
      ticks = *t;
    }
  } else if (cmd == "delete") {
    if (w.size() < 2) return UsageError(err);
    writes = true;
  } else if (cmd == "expire" || cmd == "list") {
    if (w.size() > 2) return UsageError(err);
    writes = cmd == "expire";
    if (!ParseMinutes(w, now, &cutoff, err)) return kExitUsage;
  } else if (cmd == "dump" || cmd == "status") {
    if (w.size() != 1) return UsageError(err);
    writes = false;
  } else {
    return UsageError(err);
  }
  if (cmd == "add" || cmd == "delete") {
    const size_t last = cmd == "add" ? 2 : w.size();
    for (size_t i = 1; i < last; ++i) {
      absl::StatusOr<Address> a = Address::Parse(w[i]);
      if (!a.ok()) {
        err << "vsmtprelay: " << a.status().message() << "\n";
        return kExitUsage;
      }
      addresses.push_back(*a);
    }
  }
  if (cmd == "add") {
    // Never granted, on a local file as through the coordinator (which may
    // refuse more: its --never-relay).
    absl::Status s = NeverRelay::Defaults().Check(addresses[0]);
    if (!s.ok()) {
      err << "vsmtprelay: " << s.message() << "\n";
      return kExitUsage;
    }
  }

  if (!opts.coordinator && !opts.db) {
    if (auto env = ctx.getenv("VSMTPRELAY_COORDINATOR"); env && !env->empty()) {
      opts.coordinator = *env;
    }
  }
  // Refused before anything is opened: output without the attribution the
  // user asked for could be taken for "unknown" on every entry.
  if (opts.attribution && cmd != "list" && cmd != "dump") {
    err << "vsmtprelay: --attribution applies to list and dump only\n";
    return kExitUsage;
  }
  if (opts.attribution && !opts.coordinator) {
    err << "vsmtprelay: --attribution: a local map keeps no attribution; "
           "only the coordinator does (--coordinator)\n";
    return kExitUsage;
  }
  std::string path;
  absl::StatusOr<std::unique_ptr<RelayBackend>> backend;
  if (opts.coordinator) {
    absl::StatusOr<std::vector<std::string>> targets =
        ParseEndpoints(*opts.coordinator);
    if (!targets.ok()) {
      err << "vsmtprelay: " << targets.status().message() << "\n";
      return kExitUsage;
    }
    absl::StatusOr<TlsFiles> tls =
        ResolveClientTls(opts.tls, ctx.getenv, HomeDir(ctx));
    if (!tls.ok()) {
      err << "vsmtprelay: " << tls.status().message() << "\n";
      return kExitUsage;
    }
    if (tls->insecure)
      err << "vsmtprelay: warning: " << kInsecureWarning << "\n";
    path = "the cluster";
    backend = NewCoordinatorBackend(std::move(*targets),
                                    absl::Seconds(opts.timeout_seconds),
                                    ctx.clock, *tls);
  } else {
    path = opts.db ? *opts.db : DefaultDbPath(ctx);
    backend =
        OpenLocalBackend(path, writes, opts.kind,
                         opts.key_style.value_or(MapKindKeyStyle(opts.kind)),
                         opts.map, ctx.clock);
  }
  if (!backend.ok()) return Fail(backend.status(), err);

  if (cmd == "add") {
    absl::Status s = (*backend)->Add(addresses[0], ticks);
    if (absl::IsInvalidArgument(s)) {  // e.g. the coordinator's --never-relay
      err << "vsmtprelay: " << s.message() << "\n";
      return kExitUsage;
    }
    return s.ok() ? kExitOk : Fail(s, err);
  }
  if (cmd == "delete") {
    absl::StatusOr<std::vector<std::string>> missing =
        (*backend)->Delete(addresses);
    if (!missing.ok()) return Fail(missing.status(), err);
    for (const std::string& m : *missing) {
      err << "vsmtprelay: " << m << ": not present in " << path << "\n";
    }
    return missing->empty() ? kExitOk : kExitFailure;
  }
  if (cmd == "expire") {
    absl::StatusOr<int64_t> removed = (*backend)->Expire(cutoff);
    if (!removed.ok()) return Fail(removed.status(), err);
    out << "expired " << *removed << (*removed == 1 ? " entry" : " entries")
        << "\n";
    return kExitOk;
  }
  if (cmd == "status") {
    absl::StatusOr<Description> d = (*backend)->Describe(opts.agent_limits);
    if (!d.ok()) return Fail(d.status(), err);
    out << d->text;
    return d->agents_behind > 0 ? kExitAgentsBehind : kExitOk;
  }
  absl::StatusOr<std::vector<ListedEntry>> entries =
      (*backend)->List(opts.attribution);
  if (!entries.ok()) return Fail(entries.status(), err);
  SortEntries(&*entries);
  for (const ListedEntry& e : *entries) {
    if (cmd == "list") {
      absl::StatusOr<int64_t> t = ParseTicks(e.entry.value, "value");
      if (!t.ok() || *t > cutoff) continue;
    }
    WriteEntry(e.entry, opts.attribution ? &e.who : nullptr, out);
  }
  return kExitOk;
}

}  // namespace relaysync
