// --log-encoding of the daemons: with json, every line a coordinator and an
// agent write to stderr (gRPC's own lines too, which reach it through
// rpc/grpc_logging.cc) is one JSON object with the documented fields; text
// stays the default.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/cluster.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace relaysync {
namespace {

using testing::Cluster;
using ::testing::HasSubstr;
using testing::ReadFile;

// The lines of a log file, without the last (empty) piece after '\n'.
std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Checks that every line of `path` is a JSON object with exactly time,
// level, program, pid and message; returns the messages.
std::vector<std::string> JsonMessages(const std::string& path,
                                      const std::string& program) {
  std::vector<std::string> messages;
  for (const std::string& line : Lines(path)) {
    google::protobuf::Struct object;
    const auto status =
        google::protobuf::util::JsonStringToMessage(line, &object);
    EXPECT_TRUE(status.ok()) << status.ToString() << ": " << line;
    if (!status.ok()) continue;
    const auto& f = object.fields();
    EXPECT_EQ(f.size(), 5u) << line;
    absl::Time time;
    std::string error;
    EXPECT_TRUE(f.count("time") &&
                absl::ParseTime(absl::RFC3339_full, f.at("time").string_value(),
                                &time, &error))
        << error << ": " << line;
    EXPECT_TRUE(f.count("level") &&
                (f.at("level").string_value() == "info" ||
                 f.at("level").string_value() == "warning" ||
                 f.at("level").string_value() == "error"))
        << line;
    EXPECT_TRUE(f.count("program") && f.at("program").string_value() == program)
        << line;
    EXPECT_TRUE(f.count("pid") && f.at("pid").number_value() > 0) << line;
    if (f.count("message")) messages.push_back(f.at("message").string_value());
  }
  return messages;
}

bool AnyStartsWith(const std::vector<std::string>& messages,
                   absl::string_view prefix) {
  for (const std::string& m : messages) {
    if (absl::StartsWith(m, prefix)) return true;
  }
  return false;
}

TEST(LogEncodingTest, WithJsonEveryStderrLineIsAJsonObject) {
  Cluster c(1);
  // gRPC's informational lines too (they go through the same logger).
  c.PlaceCoordinator(0, {"env", "GRPC_VERBOSITY=DEBUG"}, "127.0.0.1",
                     "127.0.0.1");
  c.AddCoordinatorFlags(
      {"--log-encoding=json", "--audit-log=" + c.dir() + "/audit.log"});
  c.AddAgentFlags(0, {"--log-encoding=json"});
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  ASSERT_EQ(c.Notify(0, "192.0.2.70"), 0);
  std::string out;
  ASSERT_TRUE(testing::WaitForCondition(
      [&] {
        return c.Vsmtprelay({"dump"}, &out) == 0 &&
               absl::StrContains(out, "192.0.2.70");
      },
      absl::Seconds(15)))
      << out << c.Logs();
  // Plaintext at the TLS port: gRPC logs the failed handshake.
  ASSERT_EQ(
      testing::RunShell(
          absl::StrCat("bash -c 'exec 3<>/dev/tcp/127.0.0.1/", c.port(),
                       "; printf \"hello\\r\\n\\r\\n\" >&3;", " sleep 0.5'"))
          .exit_code,
      0);
  kill(c.coordinator_pid(), SIGHUP);
  const std::string coordinator_log = c.dir() + "/coordinator-0.log";
  EXPECT_TRUE(testing::WaitForCondition(
      [&] {
        return absl::StrContains(ReadFile(coordinator_log),
                                 "refused TLS handshake") &&
               absl::StrContains(ReadFile(coordinator_log), "SIGHUP");
      },
      absl::Seconds(10)))
      << c.Logs();
  c.StopAgent(0, SIGTERM);
  c.StopCoordinator(SIGTERM);

  const std::vector<std::string> coordinator =
      JsonMessages(coordinator_log, "relaysync-coordinator");
  EXPECT_GE(coordinator.size(), 5u) << c.Logs();
  EXPECT_TRUE(AnyStartsWith(coordinator, "listening on")) << c.Logs();
  EXPECT_TRUE(AnyStartsWith(coordinator, "grpc: ")) << c.Logs();
  EXPECT_TRUE(AnyStartsWith(coordinator, "refused TLS handshake")) << c.Logs();
  EXPECT_TRUE(AnyStartsWith(coordinator, "signal 15: shutting down"))
      << c.Logs();
  const std::vector<std::string> agent =
      JsonMessages(c.dir() + "/agent-0.log", "relaysync-agent");
  EXPECT_TRUE(AnyStartsWith(agent, "connected to coordinator")) << c.Logs();
  EXPECT_TRUE(AnyStartsWith(agent, "signal 15: shutting down")) << c.Logs();
}

TEST(LogEncodingTest, TextIsTheDefault) {
  Cluster c(1);
  ASSERT_TRUE(c.StartAll()) << c.Logs();
  c.StopAgent(0, SIGTERM);
  c.StopCoordinator(SIGTERM);
  for (const std::string& line : Lines(c.dir() + "/coordinator-0.log")) {
    EXPECT_THAT(line,
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z "
                                        "relaysync-coordinator: .*"));
  }
}

TEST(LogEncodingTest, AnUnknownEncodingIsAUsageError) {
  std::string out;
  EXPECT_EQ(testing::RunCommand(
                {RELAYSYNC_COORDINATOR_BIN, "--log-encoding=xml", "--insecure"},
                &out),
            2);
  EXPECT_THAT(out, HasSubstr("--log-encoding: \"xml\": text or json"));
  EXPECT_EQ(testing::RunCommand({RELAYSYNC_AGENT_BIN, "--log-encoding=JSON",
                                 "--coordinator=127.0.0.1:1", "--insecure"},
                                &out),
            2);
  EXPECT_THAT(out, HasSubstr("--log-encoding: \"JSON\": text or json"));
}

}  // namespace
}  // namespace relaysync
