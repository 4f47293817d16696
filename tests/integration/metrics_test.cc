// Prometheus metrics of a live coordinator and a live agent: scraped over
// HTTP on loopback after a login, checked for the values a login moves,
// and linted with `promtool check metrics`. Also checks the shipped alert
// rules (promtool check rules, promtool test rules) and that every metric
// name the alerts and the Grafana dashboard use is one the programs export.
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/free_port.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using testing::FreeLoopbackPort;
using testing::RunCommand;
using testing::RunShell;
using testing::WaitForCondition;

constexpr absl::Duration kPropagation = absl::Seconds(15);

std::string SourceFile(const std::string& path) {
  return absl::StrCat(RELAYSYNC_SOURCE_DIR, "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// GET http://127.0.0.1:PORT/metrics; empty on failure.
std::string Scrape(int port) {
  std::string out;
  const int rc =
      RunCommand({"curl", "-sS", "--max-time", "10",
                  absl::StrCat("http://127.0.0.1:", port, "/metrics")},
                 &out);
  return rc == 0 ? out : "";
}

// The value of the sample `series` (name plus labels, exactly as exposed,
// e.g. `foo{reason="x"}`), if present.
std::optional<double> Value(const std::string& text,
                            const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " "))
      continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

// `promtool check metrics` on `text`: its complaints, or empty.
std::string Promtool(const std::string& text) {
  testing::CommandResult r =
      RunShell("promtool check metrics 2>&1; echo \"exit $?\"", text);
  return r.output == "exit 0\n" ? "" : r.output;
}

// Every metric family the exposition declares (# TYPE NAME KIND).
std::map<std::string, std::string> Families(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() == 4 && f[0] == "#" && f[1] == "TYPE") out[f[2]] = f[3];
  }
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = c_.dir() + "/dovecot.log";
    std::ofstream(log_) << "started\n";
    chmod(log_.c_str(), 0644);
    c_.AddCoordinatorFlags(
        {absl::StrCat("--metrics-listen=127.0.0.1:", coordinator_port_)});
    c_.AddAgentFlags(0,
                     {absl::StrCat("--metrics-listen=127.0.0.1:", agent_port_),
                      "--watch-log=" + log_});
    ASSERT_TRUE(c_.StartAll()) << c_.Logs();
  }

  // Scrapes both until `ready` holds for the pair (or the time is up).
  void ScrapeUntil(const std::function<bool(const std::string& coordinator,
                                            const std::string& agent)>& ready) {
    WaitForCondition(
        [&] {
          coordinator_ = Scrape(coordinator_port_);
          agent_ = Scrape(agent_port_);
          return ready(coordinator_, agent_);
        },
        kPropagation, absl::Milliseconds(200));
  }

  Cluster c_{1};
  const int coordinator_port_ = FreeLoopbackPort();
  const int agent_port_ = FreeLoopbackPort();
  std::string log_;
  std::string coordinator_;
  std::string agent_;
};

TEST_F(MetricsTest, ALoginMovesTheCountersOnBothSides) {
  ASSERT_EQ(c_.Notify(0, "192.0.2.10"), 0);
  ASSERT_TRUE(
      WaitForCondition([&] { return c_.AllHave("192.0.2.10"); }, kPropagation))
      << c_.Logs();
  // A reader may not add: refused for its role.
  std::vector<std::string> reader = c_.ClientTlsFlags("reader-monitor");
  reader.insert(reader.begin(), {"add", "192.0.2.99"});
  EXPECT_NE(c_.Vsmtprelay(reader), 0);

  ScrapeUntil([](const std::string& co, const std::string& ag) {
    return Value(co, "relaysync_coordinator_logins_merged_total").value_or(0) >=
               1 &&
           Value(co, "relaysync_coordinator_store_entries").value_or(0) == 1 &&
           Value(ag, "relaysync_agent_spool_logins").value_or(1) == 0 &&
           Value(ag, "relaysync_agent_applied_version").value_or(0) >= 1 &&
           // The push of the change goes out after the agent has its
           // acknowledgement: wait for it too.
           Value(co, "relaysync_coordinator_pushes_total").value_or(0) >= 1;
  });
  const std::string& co = coordinator_;
  const std::string& ag = agent_;
  ASSERT_FALSE(co.empty()) << c_.Logs();
  ASSERT_FALSE(ag.empty()) << c_.Logs();

  EXPECT_GE(Value(co, "relaysync_coordinator_logins_received_total"), 1) << co;
  EXPECT_GE(Value(co, "relaysync_coordinator_logins_merged_total"), 1) << co;
  EXPECT_GE(Value(co, "relaysync_coordinator_merge_duration_seconds_count"), 1)
      << co;
  EXPECT_EQ(Value(co, "relaysync_coordinator_connected_agents"), 1) << co;
  EXPECT_EQ(Value(co, "relaysync_coordinator_store_entries"), 1) << co;
  EXPECT_EQ(Value(co, "relaysync_coordinator_store_up"), 1) << co;
  EXPECT_GE(Value(co, "relaysync_coordinator_pushes_total"), 1) << co;
  EXPECT_GE(Value(co, "relaysync_coordinator_push_size_bytes_sum"), 1) << co;
  EXPECT_TRUE(
      Value(co, "relaysync_coordinator_agent_lag_versions{host_id=\"agent0\"}")
          .has_value())
      << co;
  EXPECT_EQ(Value(co,
                  "relaysync_coordinator_refused_total{reason=\"permission_"
                  "denied\"}"),
            1)
      << co;

  EXPECT_GE(Value(ag, "relaysync_agent_logins_total"), 1) << ag;
  EXPECT_EQ(Value(ag, "relaysync_agent_coordinator_connected"), 1) << ag;
  EXPECT_EQ(Value(ag, "relaysync_agent_spool_logins"), 0) << ag;
  EXPECT_EQ(Value(ag, "relaysync_agent_spool_oldest_age_seconds"), 0) << ag;
  EXPECT_EQ(Value(ag, "relaysync_agent_map_entries"), 1) << ag;
  EXPECT_GE(Value(ag, "relaysync_agent_map_write_duration_seconds_count"), 1)
      << ag;
  EXPECT_EQ(Value(ag, "relaysync_agent_map_write_errors_total"), 0) << ag;
  EXPECT_TRUE(Value(ag, "relaysync_agent_map_lock_wait_max_seconds")) << ag;
  EXPECT_EQ(Value(ag, absl::StrCat("relaysync_agent_log_tail_lag_bytes{path=\"",
                                   log_, "\"}")),
            0)
      << ag;

  EXPECT_EQ(Promtool(co), "") << co;
  EXPECT_EQ(Promtool(ag), "") << ag;
}

TEST_F(MetricsTest, ALoginInAWatchedLogIsCountedAndReadToTheEnd) {
  std::ofstream(log_, std::ios::app)
      << absl::FormatTime("%b %d %H:%M:%S ", absl::Now(), absl::LocalTimeZone())
      << "imap-login: Info: Login: user=<u>, method=PLAIN, rip=192.0.2.20, "
         "lip=192.0.2.1, mpid=1, secured, session=<abcdef>\n";
  const std::string lag =
      absl::StrCat("relaysync_agent_log_tail_lag_bytes{path=\"", log_, "\"}");
  ScrapeUntil([&](const std::string&, const std::string& ag) {
    return Value(ag, "relaysync_agent_logins_total").value_or(0) >= 1 &&
           Value(ag, lag) == 0;
  });
  EXPECT_GE(Value(agent_, "relaysync_agent_logins_total"), 1)
      << agent_ << c_.Logs();
  EXPECT_EQ(Value(agent_, lag), 0) << agent_;
  EXPECT_TRUE(
      WaitForCondition([&] { return c_.AllHave("192.0.2.20"); }, kPropagation))
      << c_.Logs();
}

TEST_F(MetricsTest, DashboardAndAlertsUseOnlyExportedMetrics) {
  // Labelled series appear once there is something to label: a connected
  // agent, a watched log.
  ScrapeUntil([](const std::string& co, const std::string& ag) {
    return Value(co, "relaysync_coordinator_connected_agents") == 1 &&
           Value(ag, "relaysync_agent_coordinator_connected") == 1;
  });
  std::map<std::string, std::string> exported = Families(coordinator_);
  exported.merge(Families(agent_));
  ASSERT_FALSE(exported.empty());
  auto known = [&](const std::string& name) {
    if (exported.count(name) > 0) return true;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      absl::string_view base = name;
      if (absl::ConsumeSuffix(&base, suffix)) {
        auto it = exported.find(std::string(base));
        if (it != exported.end() && it->second == "histogram") return true;
      }
    }
    return false;
  };
  const std::regex metric("relaysync_[a-z0-9_]+");
  for (const char* file :
       {"deploy/grafana/relaysync.json", "deploy/prometheus/alerts.yaml",
        "deploy/prometheus/alerts_test.yaml"}) {
    const std::string text = ReadFile(SourceFile(file));
    ASSERT_FALSE(text.empty()) << file;
    std::set<std::string> used;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
         it != std::sregex_iterator(); ++it) {
      used.insert(it->str());
    }
    EXPECT_GE(used.size(), 4u) << file;
    for (const std::string& name : used) {
      EXPECT_TRUE(known(name))
          << file << " uses " << name << ", which no program exports";
    }
  }
}

TEST(AlertRulesTest, PassPromtoolCheckAndTheirUnitTests) {
  std::string out;
  EXPECT_EQ(RunCommand({"promtool", "check", "rules",
                        SourceFile("deploy/prometheus/alerts.yaml")},
                       &out),
            0)
      << out;
  // The unit tests name the rule file relative to themselves.
  EXPECT_EQ(RunCommand({"promtool", "test", "rules",
                        SourceFile("deploy/prometheus/alerts_test.yaml")},
                       &out),
            0)
      << out;
}

}  // namespace
}  // namespace relaysync
