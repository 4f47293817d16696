// The identity -> roles mapping and the audit log's escaping.
#include "coordinator/access_policy.h"

#include <memory>
#include <string>

#include "common/clock.h"
#include "coordinator/audit_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;

TEST(AccessPolicyTest, DefaultPolicyFollowsTheSpiffePath) {
  AccessPolicy p = AccessPolicy::Default("relaysync");
  Grant agent = p.For("spiffe://relaysync/agent/mx1");
  EXPECT_TRUE(agent.Has(Role::kAgent));
  EXPECT_FALSE(agent.Has(Role::kAdmin));
  EXPECT_FALSE(agent.Has(Role::kReader));
  EXPECT_EQ(agent.host_id, "mx1");
  Grant admin = p.For("spiffe://relaysync/admin/alice");
  EXPECT_TRUE(admin.Has(Role::kAdmin));
  EXPECT_TRUE(admin.Has(Role::kReader));
  EXPECT_FALSE(admin.Has(Role::kAgent));
  Grant reader = p.For("spiffe://relaysync/reader/prometheus");
  EXPECT_TRUE(reader.Has(Role::kReader));
  EXPECT_FALSE(reader.Has(Role::kAdmin));
}

TEST(AccessPolicyTest, OtherTrustDomainsAndDeeperPathsGetNothing) {
  AccessPolicy p = AccessPolicy::Default("relaysync");
  EXPECT_EQ(p.For("spiffe://evil/admin/alice").roles, 0u);
  EXPECT_EQ(p.For("spiffe://relaysync/admin/alice/x").roles, 0u);
  EXPECT_EQ(p.For("spiffe://relaysync/admin/").roles, 0u);
  EXPECT_EQ(p.For("spiffe://relaysync/coordinator/localhost").roles, 0u);
  EXPECT_EQ(p.For("spiffe://relaysync.evil/agent/mx1").roles, 0u);
  EXPECT_EQ(p.For("").roles, 0u);
}

TEST(AccessPolicyTest, FileRulesAddUp) {
  auto p = AccessPolicy::Parse(
      "# comment\n"
      "\n"
      "agent spiffe://example.org/ns/mail/sa/*   # mail pods\n"
      "reader spiffe://example.org/ops/grafana\n"
      "admin spiffe://example.org/ops/grafana\n",
      "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->rules(), 3u);
  Grant pod = p->For("spiffe://example.org/ns/mail/sa/mx-7");
  EXPECT_TRUE(pod.Has(Role::kAgent));
  EXPECT_EQ(pod.host_id, "mx-7");
  Grant ops = p->For("spiffe://example.org/ops/grafana");
  EXPECT_TRUE(ops.Has(Role::kAdmin));
  EXPECT_TRUE(ops.Has(Role::kReader));
  EXPECT_EQ(p->For("spiffe://example.org/ops/other").roles, 0u);
}

TEST(AccessPolicyTest, BadLinesAreNamedWithTheirNumber) {
  auto p = AccessPolicy::Parse("agent spiffe://d/agent/*\nroot spiffe://d/x\n",
                               "/etc/relaysync/policy");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(),
              HasSubstr("/etc/relaysync/policy:2: unknown role in \"root\""));
  p = AccessPolicy::Parse("admin spiffe://d/ad*\n", "f");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("f:1: '*' is allowed only"));
  p = AccessPolicy::Parse("admin alice\n", "f");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("is not a URI"));
  p = AccessPolicy::Parse("admin\n", "f");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("f:1: expected"));
}

// One record per line, valid JSON and UTF-8 whatever a peer or an admin
// put in it; UTF-8 names stay readable (they were once escaped byte by
// byte as Latin-1, "caf\u00c3\u00a9").
TEST(AuditLogTest, EscapingKeepsOneRecordPerLine) {
  testing::ScratchDir dir;
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  absl::StatusOr<std::unique_ptr<AuditLog>> log =
      AuditLog::Open(dir.File("audit.log"), &clock);
  ASSERT_TRUE(log.ok()) << log.status();
  AuditRecord r;
  r.identity = "a\"b\\c";
  r.peer = std::string("x\ny\0z", 5);
  r.action = "caf\xc3\xa9";
  r.addresses = {"192.0.2.1", "caf\xe9"};
  r.result = "ok";
  (*log)->Write(r);
  EXPECT_EQ(
      testing::ReadFile(dir.File("audit.log")),
      "{\"time\":\"2023-11-14T22:13:20Z\",\"identity\":\"a\\\"b\\\\c\","
      "\"peer\":\"x\\ny\\u0000z\",\"action\":\"caf\xc3\xa9\","
      "\"addresses\":[\"192.0.2.1\",\"caf\\ufffd\"],\"result\":\"ok\"}\n");
}

}  // namespace
}  // namespace relaysync
