// The server's Prometheus metrics (text exposition format 0.0.4) and the
// small HTTP server that exposes them at /metrics (and /healthz).
//
// Written by hand: the format is a few lines of text per series, and no
// Prometheus client library is packaged in Debian 12.
//
// Series:
//   tinyrag_requests_total{method,code}                counter
//   tinyrag_request_duration_seconds{method,code}      histogram (1 ms .. 120 s)
//   tinyrag_queue_depth, tinyrag_running_requests      gauges
//   tinyrag_generated_tokens_total, tinyrag_decode_seconds_total  counters
//   tinyrag_decode_tokens_per_second                   gauge: generated tokens / decode seconds
//                                                      of the generations of the last 60 s (the
//                                                      speed one sequence sees; the aggregate
//                                                      throughput is rate(tinyrag_generated_tokens_total))
//   tinyrag_answers_total{escalated="true"|"false"}    counter
//   tinyrag_extractive_fallbacks_total                 counter: answered extractively because
//                                                      the generator's queue was full
//   tinyrag_escalations_total{reason}                  counter
//   tinyrag_escalation_rate                            gauge: escalated / all answers of the last 60 s
//   tinyrag_ingested_documents_total{status}           counter
// The 60 s windows are 60 one-second slots: old data leaves a second at a time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace tinyrag {

class ServerMetrics {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Upper bounds (seconds) of the latency histogram's buckets; +Inf follows.
  static constexpr std::array<double, 16> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,      2.5,   5,    10,    30,   60,  120};
  static constexpr int kWindowSeconds = 60;

  // `now` drives the 60 s windows (steady_clock::now when empty; tests pass
  // a fake clock).
  explicit ServerMetrics(Clock now = {});
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Every method below is thread-safe. Negative or NaN amounts count as 0.

  // One finished RPC: `grpc_code` as named by gRPC ("OK", "INVALID_ARGUMENT", ...).
  void RecordRequest(std::string_view method, std::string_view grpc_code, double seconds);
  void SetQueueDepth(int depth);
  void SetRunning(int running);
  // One finished generation: tokens generated and the seconds spent decoding them.
  void AddGeneration(int64_t tokens, double decode_seconds);
  // One answer; `reason` (e.g. "low_confidence") is counted only when escalated.
  void RecordAnswer(bool escalated, std::string_view reason);
  // One answer given extractively because the generator's queue was full.
  void RecordExtractiveFallback();
  // One ingested document; status e.g. "added", "updated", "unchanged", "failed".
  void RecordIngest(std::string_view status);

  // Everything in the text exposition format, series sorted by labels.
  std::string Render() const;

 private:
  struct Histogram {
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // per bucket, not cumulative
  };
  struct Slot {  // one second of the recent window
    int64_t second = -1;
    int64_t tokens = 0;
    double decode_seconds = 0;
    int64_t answers = 0;
    int64_t escalated = 0;
  };
  int64_t NowSecond() const;
  Slot& SlotFor(int64_t second) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock now_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Histogram> requests_ ABSL_GUARDED_BY(mu_);
  int queue_depth_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t generated_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  double decode_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<uint64_t, 2> answers_ ABSL_GUARDED_BY(mu_) = {};  // [escalated]
  uint64_t extractive_fallbacks_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> escalations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> ingested_ ABSL_GUARDED_BY(mu_);
  std::array<Slot, kWindowSeconds> window_ ABSL_GUARDED_BY(mu_);
};

// Serves GET /metrics (ServerMetrics::Render, Content-Type
// text/plain; version=0.0.4) and GET /healthz over plain HTTP on its own
// threads. The endpoint has no authentication: listen on loopback or a
// private network.
class MetricsHttpServer {
 public:
  // Binds `listen` ("host:port" or "[v6]:port"; port 0 picks a free port)
  // and starts serving. `metrics` is not owned and must outlive the server.
  // /healthz answers 200 "ok" while `healthy` returns true (always when
  // empty), else 503 "unavailable". InvalidArgument for a bad address,
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const ServerMetrics* metrics,
                                                                  std::string_view listen,
                                                                  std::function<bool()> healthy = {});
  // Stops accepting, finishes the requests in progress and joins the threads.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound port (the chosen one when asked for port 0).
  int port() const { return port_; }

 private:
  MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::atomic<bool> finished_{false};  // the serving thread has returned
  std::thread thread_;
};

}  // namespace tinyrag
