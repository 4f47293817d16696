#include "agent/dovecot_log_source.h"

#include <optional>
#include <utility>

#include "agent/dovecot_log_parser.h"

namespace relaysync {
namespace {

LogTailer::Options TailerOptions(const DovecotLogSource::Options& options) {
  LogTailer::Options tail;
  tail.path = options.log_path;
  tail.state_path = options.state_path;
  return tail;
}

}  // namespace

DovecotLogSource::DovecotLogSource(Options options)
    : options_(std::move(options)),
      name_("log:" + options_.log_path),
      tailer_(TailerOptions(options_)) {}

DovecotLogSource::~DovecotLogSource() { Stop(); }

absl::Status DovecotLogSource::Start(Sink sink) {
  return tailer_.Start([this, sink = std::move(sink)](absl::string_view line) {
    std::optional<LocalLogin> login =
        ParseDovecotLoginLine(line, options_.clock->Now(), options_.time_zone);
    if (!login) return;
    login->source = name_;
    // One at a time: the tailer may save its offset after any line.
    sink({std::move(*login)});
  });
}

void DovecotLogSource::Stop() { tailer_.Stop(); }

std::string DovecotLogSource::Name() const { return name_; }

}  // namespace relaysync
