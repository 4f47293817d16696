// Berkeley DB plumbing shared by the map writer (backends/map/) and the
// embedded store (backends/store/): capturing Berkeley DB's error messages
// for a Status, and input DBTs. Include from .cc files only: it brings in
// <db.h>, which the headers of both keep out.
#ifndef RELAYSYNC_BACKENDS_BDB_H_
#define RELAYSYNC_BACKENDS_BDB_H_

#include <db.h>

#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace relaysync::bdb {

// Berkeley DB gives the details of a failure to an error callback, not in
// its return code, and prints them on stderr when there is none. Installed
// on a handle, this callback keeps the last message of the calling thread
// instead, for ErrorDetail().
void CaptureErrors(DB_ENV* env);
void CaptureErrors(DB* db);

// db_strerror(err), then " (message)" when Berkeley DB reported one on this
// thread since the last ErrorDetail() or ForgetError(); forgets it.
std::string ErrorDetail(int err);
// Forgets the message, for a failure reported without it.
void ForgetError();

// An input DBT over bytes that Berkeley DB only reads; valid while `s` is.
inline DBT In(absl::string_view s) {
  DBT dbt;
  std::memset(&dbt, 0, sizeof(dbt));
  dbt.data = const_cast<char*>(s.data());
  dbt.size = static_cast<u_int32_t>(s.size());
  return dbt;
}

}  // namespace relaysync::bdb

#endif  // RELAYSYNC_BACKENDS_BDB_H_
