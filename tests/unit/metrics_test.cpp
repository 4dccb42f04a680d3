#include "service/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tinyrag {
namespace {

// A parsed exposition: sample "name{labels}" (labels as rendered) -> value,
// plus the TYPE of each family. Fails the test on a malformed line.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
};

Exposition Parse(const std::string& text) {
  Exposition e;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 2u) << line;
      if (parts.size() == 2) e.types[parts[0]] = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    EXPECT_NE(line.front(), '#') << line;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    double v = 0;
    const absl::string_view value = line.substr(space + 1);
    if (value == "+Inf") {
      v = HUGE_VAL;
    } else {
      EXPECT_TRUE(absl::SimpleAtod(value, &v)) << line;
    }
    const std::string key(line.substr(0, space));
    EXPECT_EQ(e.samples.count(key), 0u) << "duplicate series " << key;
    e.samples[key] = v;
  }
  return e;
}

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  ServerMetrics::Clock Fn() {
    return [this] { return now; };
  }
};

TEST(ServerMetrics, RendersCountersHistogramsAndGauges) {
  FakeClock clock;
  ServerMetrics m(clock.Fn());
  m.RecordRequest("Ask", "OK", 0.0004);  // first bucket
  m.RecordRequest("Ask", "OK", 0.3);     // le=0.5
  m.RecordRequest("Ask", "OK", 500);     // beyond 120 s: +Inf only
  m.RecordRequest("Ingest", "PERMISSION_DENIED", 0.002);
  m.SetQueueDepth(3);
  m.SetRunning(2);
  m.AddGeneration(100, 2.0);
  m.AddGeneration(50, 3.0);
  m.RecordAnswer(false, "none");
  m.RecordAnswer(true, "low_confidence");
  m.RecordAnswer(true, "no_answer");
  m.RecordAnswer(true, "low_confidence");
  m.RecordIngest("added");
  m.RecordIngest("added");
  m.RecordIngest("failed");

  const Exposition e = Parse(m.Render());
  auto at = [&](const std::string& key) {
    auto it = e.samples.find(key);
    EXPECT_NE(it, e.samples.end()) << "no sample " << key;
    return it == e.samples.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(e.types.at("tinyrag_requests_total"), "counter");
  EXPECT_EQ(e.types.at("tinyrag_request_duration_seconds"), "histogram");
  EXPECT_EQ(e.types.at("tinyrag_queue_depth"), "gauge");
  EXPECT_EQ(e.types.at("tinyrag_escalation_rate"), "gauge");

  EXPECT_EQ(at(R"(tinyrag_requests_total{method="Ask",code="OK"})"), 3);
  EXPECT_EQ(at(R"(tinyrag_requests_total{method="Ingest",code="PERMISSION_DENIED"})"), 1);
  const std::string ask = R"(method="Ask",code="OK")";
  EXPECT_EQ(at("tinyrag_request_duration_seconds_bucket{" + ask + R"(,le="0.001"})"), 1);
  EXPECT_EQ(at("tinyrag_request_duration_seconds_bucket{" + ask + R"(,le="0.25"})"), 1);
  EXPECT_EQ(at("tinyrag_request_duration_seconds_bucket{" + ask + R"(,le="0.5"})"), 2);
  EXPECT_EQ(at("tinyrag_request_duration_seconds_bucket{" + ask + R"(,le="120"})"), 2);
  EXPECT_EQ(at("tinyrag_request_duration_seconds_bucket{" + ask + R"(,le="+Inf"})"), 3);
  EXPECT_EQ(at("tinyrag_request_duration_seconds_count{" + ask + "}"), 3);
  EXPECT_NEAR(at("tinyrag_request_duration_seconds_sum{" + ask + "}"), 500.3004, 1e-9);
  // Buckets are cumulative: never decreasing.
  double last = 0;
  for (double le : ServerMetrics::kLatencyBuckets) {
    std::ostringstream key;
    key << "tinyrag_request_duration_seconds_bucket{method=\"Ingest\",code=\"PERMISSION_DENIED\",le=\"" << le << "\"}";
    const double v = at(key.str());
    EXPECT_GE(v, last) << key.str();
    last = v;
  }
  EXPECT_EQ(last, 1);

  EXPECT_EQ(at("tinyrag_queue_depth"), 3);
  EXPECT_EQ(at("tinyrag_running_requests"), 2);
  EXPECT_EQ(at("tinyrag_generated_tokens_total"), 150);
  EXPECT_EQ(at("tinyrag_decode_seconds_total"), 5);
  EXPECT_DOUBLE_EQ(at("tinyrag_decode_tokens_per_second"), 30);
  EXPECT_EQ(at(R"(tinyrag_answers_total{escalated="false"})"), 1);
  EXPECT_EQ(at(R"(tinyrag_answers_total{escalated="true"})"), 3);
  EXPECT_EQ(at(R"(tinyrag_escalations_total{reason="low_confidence"})"), 2);
  EXPECT_EQ(at(R"(tinyrag_escalations_total{reason="no_answer"})"), 1);
  EXPECT_EQ(e.samples.count(R"(tinyrag_escalations_total{reason="none"})"), 0u);
  EXPECT_DOUBLE_EQ(at("tinyrag_escalation_rate"), 0.75);
  EXPECT_EQ(at(R"(tinyrag_ingested_documents_total{status="added"})"), 2);
  EXPECT_EQ(at(R"(tinyrag_ingested_documents_total{status="failed"})"), 1);
}

TEST(ServerMetrics, RecentWindowForgetsOldSeconds) {
  FakeClock clock;
  ServerMetrics m(clock.Fn());
  m.AddGeneration(100, 10);  // 10 tok/s
  m.RecordAnswer(true, "low_confidence");
  clock.now += std::chrono::seconds(30);
  m.AddGeneration(300, 10);  // window: 400 / 20
  m.RecordAnswer(false, "none");
  auto e = Parse(m.Render());
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_decode_tokens_per_second"), 20);
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_escalation_rate"), 0.5);
  clock.now += std::chrono::seconds(31);  // the first second has left the window
  e = Parse(m.Render());
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_decode_tokens_per_second"), 30);
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_escalation_rate"), 0);
  clock.now += std::chrono::seconds(60);  // all gone; the totals stay
  e = Parse(m.Render());
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_decode_tokens_per_second"), 0);
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_generated_tokens_total"), 400);
  // A slot reused 60 s later starts from zero.
  m.AddGeneration(10, 1);
  e = Parse(m.Render());
  EXPECT_DOUBLE_EQ(e.samples.at("tinyrag_decode_tokens_per_second"), 10);
}

TEST(ServerMetrics, EscapesLabelValuesAndIgnoresBadAmounts) {
  ServerMetrics m;
  m.RecordRequest("a\"b\\c\nd", "OK", std::nan(""));
  m.RecordIngest("x\"y");
  m.AddGeneration(-5, -1);
  const std::string text = m.Render();
  EXPECT_NE(text.find(R"(tinyrag_requests_total{method="a\"b\\c\nd",code="OK"} 1)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(tinyrag_ingested_documents_total{status="x\"y"} 1)"), std::string::npos) << text;
  const Exposition e = Parse(text);
  EXPECT_EQ(e.samples.at(R"(tinyrag_request_duration_seconds_sum{method="a\"b\\c\nd",code="OK"})"), 0);
  EXPECT_EQ(e.samples.at("tinyrag_generated_tokens_total"), 0);
  EXPECT_EQ(e.samples.at("tinyrag_decode_seconds_total"), 0);
}

TEST(ServerMetrics, ConcurrentRecordingLosesNothing) {
  ServerMetrics m;
  constexpr int kThreads = 8, kEach = 2000;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) Parse(m.Render());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        m.RecordRequest(t % 2 ? "Ask" : "Retrieve", "OK", 0.01);
        m.AddGeneration(2, 0.1);
        m.RecordAnswer(i % 4 == 0, "low_confidence");
        m.SetQueueDepth(i);
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  reader.join();
  const Exposition e = Parse(m.Render());
  EXPECT_EQ(e.samples.at(R"(tinyrag_requests_total{method="Ask",code="OK"})") +
                e.samples.at(R"(tinyrag_requests_total{method="Retrieve",code="OK"})"),
            kThreads * kEach);
  EXPECT_EQ(e.samples.at("tinyrag_generated_tokens_total"), 2.0 * kThreads * kEach);
  EXPECT_EQ(e.samples.at(R"(tinyrag_escalations_total{reason="low_confidence"})"), kThreads * kEach / 4);
  EXPECT_NEAR(e.samples.at("tinyrag_decode_tokens_per_second"), 20, 1e-6);
}

TEST(MetricsHttpServer, ServesMetricsAndHealthOverHttp) {
  ServerMetrics m;
  m.RecordRequest("Ask", "OK", 0.5);
  std::atomic<bool> healthy{true};
  auto server = MetricsHttpServer::Start(&m, "127.0.0.1:0", [&] { return healthy.load(); });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_connection_timeout(std::chrono::seconds(5));
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const Exposition e = Parse(res->body);
  EXPECT_EQ(e.samples.at(R"(tinyrag_requests_total{method="Ask",code="OK"})"), 1);

  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
  healthy = false;
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  res = client.Get("/nothing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  const int port = (*server)->port();
  server->reset();  // stops and joins
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(std::chrono::seconds(1));
  EXPECT_FALSE(after.Get("/metrics"));
}

TEST(MetricsHttpServer, RejectsBadOrBusyAddresses) {
  ServerMetrics m;
  EXPECT_EQ(MetricsHttpServer::Start(&m, "nonsense").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start(&m, "unix:/tmp/x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start(nullptr, "127.0.0.1:0").status().code(), absl::StatusCode::kInvalidArgument);
  auto first = MetricsHttpServer::Start(&m, "127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsHttpServer::Start(&m, "127.0.0.1:" + std::to_string((*first)->port()));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tinyrag
