// Structured logs of the server: one line per event on stderr, through spdlog.
//
// json format: {"ts":"2026-11-22T08:00:00.123Z","level":"info","event":"ask_done","request_id":"r1",...}
// text format: 2026-11-22T08:00:00.123Z info ask_done request_id=r1 question="what is it"
//
// Fields are a JSON object; their keys follow ts, level and event in the
// object's order (a field named ts, level or event is written as field_ts,
// field_level, field_event). Invalid UTF-8 in a string is replaced by U+FFFD
// rather than failing. Every function here is thread-safe.
#pragma once

#include <ostream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tinyrag {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn", "error" (InvalidArgument otherwise). Pure.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// Sets the minimum level and the format ("json" or "text"); InvalidArgument
// (and nothing changed) for another name. Before the first call the level is
// info and the format json.
absl::Status InitLogging(std::string_view level, std::string_view format);

// True when events at `level` are written. A relaxed atomic load: call it
// before building expensive fields.
bool LogEnabled(LogLevel level);

// Writes one event line when `level` is enabled (otherwise returns after one
// atomic load). `fields` should be an object; null means no fields, any
// other value is written as the field "value".
void LogEvent(LogLevel level, std::string_view event, const nlohmann::json& fields = nullptr);

// Test hook: sends log lines to `out` (which must outlive the redirection)
// instead of stderr; nullptr restores stderr.
void SetLogOutputForTest(std::ostream* out);

}  // namespace tinyrag
