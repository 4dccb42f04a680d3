#include "service/metrics.h"

#include <httplib.h>

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "service/config.h"

namespace tinyrag {
namespace {

double NonNegative(double v) { return v > 0 && std::isfinite(v) ? v : 0; }

// Shortest text that reads back as the same double; Prometheus spellings
// for the special values.
std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Label values escape backslash, double quote and line feed.
std::string LabelValue(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Header(std::string& out, absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

ServerMetrics::ServerMetrics(Clock now)
    : now_(now ? std::move(now) : Clock([] { return std::chrono::steady_clock::now(); })) {}

int64_t ServerMetrics::NowSecond() const {
  return std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
}

ServerMetrics::Slot& ServerMetrics::SlotFor(int64_t second) {
  Slot& slot = window_[static_cast<size_t>(((second % kWindowSeconds) + kWindowSeconds) % kWindowSeconds)];
  if (slot.second != second) slot = Slot{second};
  return slot;
}

void ServerMetrics::RecordRequest(std::string_view method, std::string_view grpc_code, double seconds) {
  seconds = NonNegative(seconds);
  absl::MutexLock lock(&mu_);
  Histogram& h = requests_[{std::string(method), std::string(grpc_code)}];
  ++h.count;
  h.sum += seconds;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
}

void ServerMetrics::SetQueueDepth(int depth) {
  absl::MutexLock lock(&mu_);
  queue_depth_ = depth;
}

void ServerMetrics::SetRunning(int running) {
  absl::MutexLock lock(&mu_);
  running_ = running;
}

void ServerMetrics::AddGeneration(int64_t tokens, double decode_seconds) {
  if (tokens < 0) tokens = 0;
  decode_seconds = NonNegative(decode_seconds);
  const int64_t second = NowSecond();
  absl::MutexLock lock(&mu_);
  generated_tokens_ += tokens;
  decode_seconds_ += decode_seconds;
  Slot& slot = SlotFor(second);
  slot.tokens += tokens;
  slot.decode_seconds += decode_seconds;
}

void ServerMetrics::RecordAnswer(bool escalated, std::string_view reason) {
  const int64_t second = NowSecond();
  absl::MutexLock lock(&mu_);
  ++answers_[escalated ? 1 : 0];
  if (escalated) ++escalations_[std::string(reason)];
  Slot& slot = SlotFor(second);
  ++slot.answers;
  if (escalated) ++slot.escalated;
}

void ServerMetrics::RecordExtractiveFallback() {
  absl::MutexLock lock(&mu_);
  ++extractive_fallbacks_;
}

void ServerMetrics::RecordIngest(std::string_view status) {
  absl::MutexLock lock(&mu_);
  ++ingested_[std::string(status)];
}

std::string ServerMetrics::Render() const {
  const int64_t now = NowSecond();
  std::string out;
  absl::ReaderMutexLock lock(&mu_);

  Header(out, "tinyrag_requests_total", "counter", "Finished RPCs by method and gRPC status code.");
  for (const auto& [labels, h] : requests_) {
    absl::StrAppend(&out, "tinyrag_requests_total{method=\"", LabelValue(labels.first), "\",code=\"",
                    LabelValue(labels.second), "\"} ", h.count, "\n");
  }
  Header(out, "tinyrag_request_duration_seconds", "histogram", "RPC latency in seconds by method and gRPC status code.");
  for (const auto& [labels, h] : requests_) {
    const std::string base =
        absl::StrCat("method=\"", LabelValue(labels.first), "\",code=\"", LabelValue(labels.second), "\"");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      absl::StrAppend(&out, "tinyrag_request_duration_seconds_bucket{", base, ",le=\"", Number(kLatencyBuckets[i]),
                      "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "tinyrag_request_duration_seconds_bucket{", base, ",le=\"+Inf\"} ", h.count, "\n");
    absl::StrAppend(&out, "tinyrag_request_duration_seconds_sum{", base, "} ", Number(h.sum), "\n");
    absl::StrAppend(&out, "tinyrag_request_duration_seconds_count{", base, "} ", h.count, "\n");
  }

  Header(out, "tinyrag_queue_depth", "gauge", "Requests waiting for the decoder.");
  absl::StrAppend(&out, "tinyrag_queue_depth ", queue_depth_, "\n");
  Header(out, "tinyrag_running_requests", "gauge", "Requests being generated.");
  absl::StrAppend(&out, "tinyrag_running_requests ", running_, "\n");

  int64_t window_tokens = 0, window_answers = 0, window_escalated = 0;
  double window_decode = 0;
  for (const Slot& s : window_) {
    if (s.second > now - kWindowSeconds && s.second <= now) {
      window_tokens += s.tokens;
      window_decode += s.decode_seconds;
      window_answers += s.answers;
      window_escalated += s.escalated;
    }
  }
  Header(out, "tinyrag_generated_tokens_total", "counter", "Tokens generated.");
  absl::StrAppend(&out, "tinyrag_generated_tokens_total ", generated_tokens_, "\n");
  Header(out, "tinyrag_decode_seconds_total", "counter", "Seconds spent decoding, summed over generations.");
  absl::StrAppend(&out, "tinyrag_decode_seconds_total ", Number(decode_seconds_), "\n");
  Header(out, "tinyrag_decode_tokens_per_second", "gauge",
         "Generated tokens per decode second of one sequence, over the last 60 s (0 when idle).");
  absl::StrAppend(&out, "tinyrag_decode_tokens_per_second ",
                  Number(window_decode > 0 ? static_cast<double>(window_tokens) / window_decode : 0), "\n");

  Header(out, "tinyrag_answers_total", "counter", "Answers, by whether they were escalated.");
  absl::StrAppend(&out, "tinyrag_answers_total{escalated=\"false\"} ", answers_[0], "\n");
  absl::StrAppend(&out, "tinyrag_answers_total{escalated=\"true\"} ", answers_[1], "\n");
  Header(out, "tinyrag_extractive_fallbacks_total", "counter",
         "Answers given extractively because the generator's queue was full.");
  absl::StrAppend(&out, "tinyrag_extractive_fallbacks_total ", extractive_fallbacks_, "\n");
  Header(out, "tinyrag_escalations_total", "counter", "Escalated answers by reason.");
  for (const auto& [reason, n] : escalations_) {
    absl::StrAppend(&out, "tinyrag_escalations_total{reason=\"", LabelValue(reason), "\"} ", n, "\n");
  }
  Header(out, "tinyrag_escalation_rate", "gauge", "Fraction of the answers of the last 60 s that were escalated.");
  absl::StrAppend(&out, "tinyrag_escalation_rate ",
                  Number(window_answers > 0 ? static_cast<double>(window_escalated) / window_answers : 0), "\n");

  Header(out, "tinyrag_ingested_documents_total", "counter", "Documents ingested through the server, by outcome.");
  for (const auto& [status, n] : ingested_) {
    absl::StrAppend(&out, "tinyrag_ingested_documents_total{status=\"", LabelValue(status), "\"} ", n, "\n");
  }
  return out;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    finished_ = true;
  });
}

MetricsHttpServer::~MetricsHttpServer() {
  // stop() only acts on a running server: wait for the thread to get there
  // (Start already waited, so this is immediate in practice).
  while (!server_->is_running() && !finished_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const ServerMetrics* metrics,
                                                                            std::string_view listen,
                                                                            std::function<bool()> healthy) {
  if (metrics == nullptr) return absl::InvalidArgumentError("metrics server: no metrics to serve");
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return address.status();
  if (address->unix_socket) return absl::InvalidArgumentError("metrics server: listen on host:port, not a unix socket");

  auto server = std::make_unique<httplib::Server>();
  // Two workers are plenty for scrapes; no keep-alive, so shutdown never
  // waits on an idle connection.
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->set_keep_alive_max_count(1);
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the
  // same port and take half the scrapes; SO_REUSEADDR alone still allows a
  // quick restart while refusing a port in use.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server->Get("/healthz", [healthy = std::move(healthy)](const httplib::Request&, httplib::Response& res) {
    const bool ok = !healthy || healthy();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unavailable\n", "text/plain; charset=utf-8");
  });

  int port = address->port;
  if (port == 0) {
    port = server->bind_to_any_port(address->host);
    if (port < 0) port = 0;
  } else if (!server->bind_to_port(address->host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(absl::StrCat("metrics server: cannot listen on ", std::string(listen)));
  }
  std::unique_ptr<MetricsHttpServer> out(new MetricsHttpServer(std::move(server), port));
  for (int i = 0; i < 5000 && !out->server_->is_running() && !out->finished_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return out;
}

}  // namespace tinyrag
