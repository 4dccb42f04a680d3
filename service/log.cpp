#include "service/log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace tinyrag {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{true};

// The logger behind LogEvent; replaced only by the test hook. spdlog's
// sinks serialize writes, so concurrent events never interleave in a line.
class Output {
 public:
  Output() : logger_(MakeLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>())) {}

  std::shared_ptr<spdlog::logger> Get() const {
    absl::ReaderMutexLock lock(&mu_);
    return logger_;
  }
  void Redirect(std::ostream* out) {
    std::shared_ptr<spdlog::logger> logger =
        out != nullptr ? MakeLogger(std::make_shared<spdlog::sinks::ostream_sink_mt>(*out, /*force_flush=*/true))
                       : MakeLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    absl::MutexLock lock(&mu_);
    logger_ = std::move(logger);
  }

 private:
  static std::shared_ptr<spdlog::logger> MakeLogger(spdlog::sink_ptr sink) {
    auto logger = std::make_shared<spdlog::logger>("tinyrag", std::move(sink));
    // The line is formatted here (timestamp included); spdlog only writes it.
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);
    return logger;
  }

  mutable absl::Mutex mu_;
  std::shared_ptr<spdlog::logger> logger_ ABSL_GUARDED_BY(mu_);
};

Output& TheOutput() {
  static Output output;
  return output;
}

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// RFC 3339 UTC with milliseconds: 2026-11-22T08:00:00.123Z.
std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf, n) + frac;
}

// Compact JSON that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string Dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool NeedsQuotes(std::string_view text) {
  if (text.empty()) return true;
  for (unsigned char c : text) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

std::string FieldKey(const std::string& key) {
  if (key == "ts" || key == "level" || key == "event") return "field_" + key;
  return key;
}

std::string JsonLine(std::string_view ts, LogLevel level, std::string_view event, const nlohmann::json& fields) {
  std::string line = "{\"ts\":\"" + std::string(ts) + "\",\"level\":\"" + std::string(LogLevelName(level)) +
                     "\",\"event\":" + Dump(std::string(event));
  auto add = [&](const std::string& key, const nlohmann::json& value) {
    absl::StrAppend(&line, ",", Dump(FieldKey(key)), ":", Dump(value));
  };
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) add(key, value);
  } else if (!fields.is_null()) {
    add("value", fields);
  }
  line += "}";
  return line;
}

std::string TextLine(std::string_view ts, LogLevel level, std::string_view event, const nlohmann::json& fields) {
  std::string line = std::string(ts) + " " + std::string(LogLevelName(level)) + " " + std::string(event);
  auto add = [&](const std::string& key, const nlohmann::json& value) {
    const std::string text = value.is_string() ? value.get<std::string>() : Dump(value);
    absl::StrAppend(&line, " ", FieldKey(key), "=", NeedsQuotes(text) ? Dump(text) : text);
  };
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) add(key, value);
  } else if (!fields.is_null()) {
    add("value", fields);
  }
  return line;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat("log level must be debug, info, warn or error, got '",
                                                 std::string(name), "'"));
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

absl::Status InitLogging(std::string_view level, std::string_view format) {
  absl::StatusOr<LogLevel> parsed = ParseLogLevel(level);
  if (!parsed.ok()) return parsed.status();
  if (format != "json" && format != "text") {
    return absl::InvalidArgumentError(absl::StrCat("log format must be json or text, got '", std::string(format), "'"));
  }
  g_min_level.store(static_cast<int>(*parsed), std::memory_order_relaxed);
  g_json.store(format == "json", std::memory_order_relaxed);
  return absl::OkStatus();
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void LogEvent(LogLevel level, std::string_view event, const nlohmann::json& fields) {
  if (!LogEnabled(level)) return;
  const std::string ts = Timestamp();
  const std::string line =
      g_json.load(std::memory_order_relaxed) ? JsonLine(ts, level, event, fields) : TextLine(ts, level, event, fields);
  const std::shared_ptr<spdlog::logger> logger = TheOutput().Get();
  logger->log(SpdLevel(level), spdlog::string_view_t(line.data(), line.size()));
}

void SetLogOutputForTest(std::ostream* out) { TheOutput().Redirect(out); }

}  // namespace tinyrag
