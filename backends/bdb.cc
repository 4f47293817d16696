#include "backends/bdb.h"

#include "absl/strings/str_cat.h"

namespace relaysync::bdb {
namespace {

thread_local std::string last_message;

void Capture(const DB_ENV*, const char*, const char* msg) {
  last_message = msg;
}

}  // namespace

void CaptureErrors(DB_ENV* env) { env->set_errcall(env, Capture); }

void CaptureErrors(DB* db) { db->set_errcall(db, Capture); }

std::string ErrorDetail(int err) {
  std::string detail =
      last_message.empty()
          ? std::string(db_strerror(err))
          : absl::StrCat(db_strerror(err), " (", last_message, ")");
  last_message.clear();
  return detail;
}

void ForgetError() { last_message.clear(); }

}  // namespace relaysync::bdb
