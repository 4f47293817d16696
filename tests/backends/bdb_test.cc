#include "backends/bdb.h"

#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A handle whose errors are captured; closed at the end of the test.
struct Handle {
  Handle() {
    EXPECT_EQ(db_create(&db, nullptr, 0), 0);
    bdb::CaptureErrors(db);
  }
  ~Handle() { db->close(db, 0); }
  DB* db = nullptr;
};

// A failure Berkeley DB explains through its error callback, without any
// file: a page size below its minimum.
int FailWithAMessage(DB* db) { return db->set_pagesize(db, 3); }

TEST(BdbTest, ErrorDetailQuotesWhatBerkeleyDbReported) {
  Handle h;
  const int err = FailWithAMessage(h.db);
  ASSERT_NE(err, 0);
  const std::string detail = bdb::ErrorDetail(err);
  EXPECT_THAT(detail, StartsWith(std::string(db_strerror(err)) + " ("));
  EXPECT_THAT(detail, HasSubstr("page size"));
}

TEST(BdbTest, ErrorDetailForgetsTheMessageOnceTaken) {
  Handle h;
  const int err = FailWithAMessage(h.db);
  bdb::ErrorDetail(err);
  EXPECT_EQ(bdb::ErrorDetail(err), db_strerror(err));
}

TEST(BdbTest, ForgetErrorDropsTheMessage) {
  Handle h;
  const int err = FailWithAMessage(h.db);
  bdb::ForgetError();
  EXPECT_EQ(bdb::ErrorDetail(err), db_strerror(err));
}

TEST(BdbTest, TheMessageStaysWithTheThreadThatFailed) {
  Handle h;
  const int err = FailWithAMessage(h.db);
  std::string elsewhere;
  std::thread([&] { elsewhere = bdb::ErrorDetail(err); }).join();
  EXPECT_EQ(elsewhere, db_strerror(err));
  EXPECT_THAT(bdb::ErrorDetail(err), HasSubstr("page size"));
}

TEST(BdbTest, EnvironmentErrorsAreCapturedToo) {
  DB_ENV* env = nullptr;
  ASSERT_EQ(db_env_create(&env, 0), 0);
  bdb::CaptureErrors(env);
  const int err = env->open(env, "/nonexistent/relaysync-bdb-test",
                            DB_CREATE | DB_INIT_MPOOL, 0);
  ASSERT_NE(err, 0);
  EXPECT_THAT(bdb::ErrorDetail(err),
              StartsWith(std::string(db_strerror(err)) + " ("));
  env->close(env, 0);
}

TEST(BdbTest, InPointsAtTheBytesWithoutCopying) {
  const std::string bytes("key\0with nul", 12);
  DBT dbt = bdb::In(bytes);
  EXPECT_EQ(dbt.data, bytes.data());
  EXPECT_EQ(dbt.size, bytes.size());
  EXPECT_EQ(dbt.flags, 0u);
  EXPECT_EQ(dbt.ulen, 0u);
  EXPECT_EQ(bdb::In("").size, 0u);
}

}  // namespace
}  // namespace relaysync
