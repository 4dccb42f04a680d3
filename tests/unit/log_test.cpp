#include "service/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"

namespace tinyrag {
namespace {

using nlohmann::json;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogOutputForTest(&out_); }
  void TearDown() override {
    SetLogOutputForTest(nullptr);
    ASSERT_TRUE(InitLogging("info", "json").ok());
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
    return lines;
  }

  std::ostringstream out_;
};

const std::regex kTimestamp(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

TEST_F(LogTest, JsonLinesCarryTimestampLevelEventAndFieldsInOrder) {
  ASSERT_TRUE(InitLogging("info", "json").ok());
  LogEvent(LogLevel::kInfo, "ask_done",
           json{{"request_id", "r-1"}, {"seconds", 0.25}, {"escalated", false}, {"n", 3}, {"event", "clash"}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  const json j = json::parse(lines[0]);
  EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(), kTimestamp)) << j["ts"];
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["event"], "ask_done");
  EXPECT_EQ(j["request_id"], "r-1");
  EXPECT_DOUBLE_EQ(j["seconds"].get<double>(), 0.25);
  EXPECT_EQ(j["escalated"], false);
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(j["field_event"], "clash");
  // ts, level and event come first.
  EXPECT_EQ(lines[0].rfind("{\"ts\":", 0), 0u) << lines[0];
  EXPECT_LT(lines[0].find("\"level\""), lines[0].find("\"event\""));
}

TEST_F(LogTest, LevelFiltersAndLogEnabledAgree) {
  ASSERT_TRUE(InitLogging("warn", "json").ok());
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  LogEvent(LogLevel::kDebug, "d");
  LogEvent(LogLevel::kInfo, "i");
  LogEvent(LogLevel::kWarn, "w");
  LogEvent(LogLevel::kError, "e");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  EXPECT_EQ(json::parse(lines[0])["level"], "warn");
  EXPECT_EQ(json::parse(lines[1])["level"], "error");
  ASSERT_TRUE(InitLogging("debug", "json").ok());
  LogEvent(LogLevel::kDebug, "d");
  EXPECT_EQ(Lines().size(), 3u);
}

TEST_F(LogTest, TextFormatQuotesValuesThatNeedIt) {
  ASSERT_TRUE(InitLogging("info", "text").ok());
  LogEvent(LogLevel::kInfo, "ask_done",
           json{{"id", "r1"}, {"question", "what is it?"}, {"empty", ""}, {"q", "a\"b"}, {"n", 7}, {"ok", true}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, std::regex(R"((\S+) info ask_done (.*))"))) << lines[0];
  EXPECT_TRUE(std::regex_match(m[1].str(), kTimestamp)) << m[1];
  // nlohmann's object keeps keys sorted: empty, id, n, ok, q, question.
  EXPECT_EQ(m[2].str(), R"(empty="" id=r1 n=7 ok=true q="a\"b" question="what is it?")");
}

TEST_F(LogTest, InvalidUtf8AndNonObjectFieldsStillLog) {
  ASSERT_TRUE(InitLogging("info", "json").ok());
  LogEvent(LogLevel::kInfo, "bad", json{{"text", std::string("a\xff" "b")}});
  LogEvent(LogLevel::kInfo, "scalar", json(42));
  LogEvent(LogLevel::kInfo, "multi\nline", json{{"s", "x\ny"}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  EXPECT_EQ(json::parse(lines[0])["text"], "a\xef\xbf\xbd" "b");
  EXPECT_EQ(json::parse(lines[1])["value"], 42);
  EXPECT_EQ(json::parse(lines[2])["s"], "x\ny");
  EXPECT_EQ(json::parse(lines[2])["event"], "multi\nline");
}

TEST_F(LogTest, RejectsUnknownLevelsAndFormatsWithoutChangingAnything) {
  ASSERT_TRUE(InitLogging("error", "text").ok());
  EXPECT_EQ(InitLogging("verbose", "json").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InitLogging("info", "xml").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(LogEnabled(LogLevel::kWarn));
  LogEvent(LogLevel::kError, "still_text");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" error still_text"), std::string::npos) << lines[0];
}

TEST_F(LogTest, ConcurrentEventsAreWholeLines) {
  ASSERT_TRUE(InitLogging("info", "json").ok());
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kEach; ++i) LogEvent(LogLevel::kInfo, "tick", json{{"t", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kEach));
  std::vector<int> next(kThreads, 0);
  for (const auto& line : lines) {
    const json j = json::parse(line);  // throws (fails the test) on an interleaved line
    const int t = j["t"];
    EXPECT_EQ(j["i"].get<int>(), next[t]++);  // each thread's events in its order
  }
}

TEST(LogLevel, ParsesNames) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    auto parsed = ParseLogLevel(LogLevelName(l));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_FALSE(ParseLogLevel("INFO").ok());
}

}  // namespace
}  // namespace tinyrag
