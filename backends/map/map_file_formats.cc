#include "backends/map/map_file_formats.h"

#include <cdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace relaysync {
namespace {

bool NeedsQuotes(absl::string_view key) {
  return key.empty() || key.find_first_of(": \t#") != absl::string_view::npos;
}

// One line of a text map: an entry, or false for a blank line or comment.
bool ParseLine(absl::string_view line, std::string* key, std::string* value) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty() || line.front() == '#') return false;
  size_t end;
  if (line.front() == '"') {
    end = line.find('"', 1);
    if (end == absl::string_view::npos) end = line.size();
    *key = std::string(line.substr(1, end - 1));
    ++end;
  } else {
    end = line.find_first_of(" \t:");
    if (end == absl::string_view::npos) end = line.size();
    *key = std::string(line.substr(0, end));
  }
  absl::string_view rest = end < line.size() ? line.substr(end) : "";
  rest = absl::StripLeadingAsciiWhitespace(rest);
  if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
  *value = std::string(absl::StripAsciiWhitespace(rest));
  return true;
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAllFrom(int fd) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<MapFileFormat::Entries> TextFormat::Read(
    int fd, const std::string& path) const {
  absl::StatusOr<std::string> text = ReadAllFrom(fd);
  if (!text.ok()) {
    return absl::UnavailableError(
        absl::StrCat("text map: ", path, ": ", text.status().message()));
  }
  Entries entries;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::string key, value;
    if (ParseLine(line, &key, &value)) entries[key] = value;
  }
  return entries;
}

std::string TextFormat::Format(const Entries& entries) {
  std::string out;
  for (const auto& [key, value] : entries) {
    if (NeedsQuotes(key)) {
      absl::StrAppend(&out, "\"", key, "\"\t", value, "\n");
    } else {
      absl::StrAppend(&out, key, "\t", value, "\n");
    }
  }
  return out;
}

absl::Status TextFormat::Write(int fd, const std::string& path,
                               const Entries& entries) const {
  (void)path;
  return WriteAll(fd, Format(entries));
}

absl::Status TextFormat::CheckKey(absl::string_view key) const {
  if (key.find_first_of("\"\t\r\n") == absl::string_view::npos) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("key \"", key, "\" cannot be written"));
}

absl::StatusOr<MapFileFormat::Entries> BdbFileFormat::Read(
    int fd, const std::string& path) const {
  (void)fd;  // RelayersDb opens the file by its path
  MapOptions options;
  options.nul_terminated_keys = nul_terminated_keys_;
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, RelayersDb::Mode::kReadOnly, options);
  if (!db.ok()) return db.status();
  absl::StatusOr<std::vector<MapEntry>> all = (*db)->ReadAll();
  if (!all.ok()) return all.status();
  Entries entries;
  for (MapEntry& e : *all) entries[std::move(e.key)] = std::move(e.value);
  return entries;
}

absl::Status BdbFileFormat::Write(int fd, const std::string& path,
                                  const Entries& entries) const {
  (void)fd;  // the caller syncs it once RelayersDb has written its pages
  MapOptions options;
  options.nul_terminated_keys = nul_terminated_keys_;
  options.sync_to_disk = false;
  absl::StatusOr<std::unique_ptr<RelayersDb>> db =
      RelayersDb::Open(path, RelayersDb::Mode::kReadWrite, options);
  if (!db.ok()) return db.status();
  MapBatch batch;
  for (const auto& [key, value] : entries) {
    int64_t ticks = 0;
    // Values are ticks; one that is not (put there by hand) is dropped.
    if (absl::SimpleAtoi(value, &ticks)) batch.Put(key, ticks);
  }
  // An empty map must still be a Berkeley DB file (a zero-length one fails
  // Exim's lookups): a key put and deleted again makes the write format it.
  constexpr char kFormatKey[] = "relaysync-empty-map";
  batch.Put(kFormatKey, 0);
  batch.Delete(kFormatKey);
  return (*db)->Apply(batch).status();
}

absl::StatusOr<MapFileFormat::Entries> CdbFormat::Read(
    int fd, const std::string& path) const {
  Entries entries;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size == 0) return entries;  // new, empty
  struct cdb db;
  if (cdb_init(&db, fd) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cdb map: ", path, ": not a cdb file"));
  }
  unsigned pos;
  cdb_seqinit(&pos, &db);
  int rc;
  while ((rc = cdb_seqnext(&pos, &db)) > 0) {
    std::string key(cdb_keylen(&db), '\0');
    std::string value(cdb_datalen(&db), '\0');
    if (cdb_read(&db, key.data(), key.size(), cdb_keypos(&db)) != 0 ||
        cdb_read(&db, value.data(), value.size(), cdb_datapos(&db)) != 0) {
      rc = -1;
      break;
    }
    entries[std::move(key)] = std::move(value);
  }
  cdb_free(&db);
  if (rc < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cdb map: ", path, ": damaged cdb file"));
  }
  return entries;
}

absl::Status CdbFormat::Write(int fd, const std::string& path,
                              const Entries& entries) const {
  struct cdb_make make;
  if (cdb_make_start(&make, fd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cdb_make_start"));
  }
  for (const auto& [key, value] : entries) {
    if (cdb_make_add(&make, key.data(), key.size(), value.data(),
                     value.size()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cdb_make_add"));
    }
  }
  if (cdb_make_finish(&make) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cdb_make_finish"));
  }
  return absl::OkStatus();
}

}  // namespace relaysync
