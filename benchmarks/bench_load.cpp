// Load generator for a running tinyrag server (`tinyrag serve`): Ask latency
// and throughput at several client concurrencies, and what continuous
// batching gains.
//
//   bench_load --server ADDR [--api-key K] [--clients 1,4,16] [--requests N] [--questions FILE]
//              [--stream] [--max-tokens N] [--top-k K] [--json]
//
// For each concurrency c, N Ask calls (AskStream with --stream) are spread over
// c client threads, each sending its next question as soon as the previous
// answer arrives. Reported per level: latency p50/p95/p99, requests/s, decode
// throughput summed over the concurrent generations (each response's answer
// tokens over its decode time, times the generations in flight; and the same
// over only the decode steps it rode in, the batching gain proper), answer
// tokens per wall-clock second, time to first token (--stream: the first
// delta; always: the server's embed + retrieve + queue + prefill) and the
// gain of each over the first level (usually c = 1).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "service/cli/grpc_client.h"
#include "tinyrag/v1/rag.grpc.pb.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "bench_load: %s\n", std::string(status.message()).c_str());
  return 1;
}

using Clock = std::chrono::steady_clock;
using tinyrag::cli::ServerConnection;
namespace v1 = tinyrag::v1;

// Questions used when --questions is not given: customer-support style, of
// mixed length, so prompts differ a little from request to request.
const std::vector<std::string> kDefaultQuestions = {
    "How do I reset my password?",
    "When are invoices issued and how do refunds work for annual plans?",
    "How long does international delivery take?",
    "What does the warranty cover?",
    "Can I change the email address on my account?",
    "Which payment methods are accepted?",
    "How do I cancel my subscription before the next billing date?",
    "Where is my parcel shipped from?",
};

struct Sample {
  bool ok = false;
  std::string error;  // the status code's name when not ok
  double latency_ms = 0;
  double first_delta_ms = -1;  // --stream only
  double server_ttft_ms = 0;   // embed + retrieve + queue + prefill, from the response
  int answer_tokens = 0;
  double decode_ms = 0;
  double decode_step_ms = 0;
};

struct Options {
  tinyrag::cli::ConnectionOptions connection;
  std::string clients = "1,4,16";
  int requests = 16;
  std::string questions_file;
  bool stream = false;
  bool json = false;
  int max_tokens = 0;
  int top_k = 0;
  int warmup = 1;
};

Sample AskOnce(const ServerConnection& conn, v1::RagService::Stub& stub, const v1::AskRequest& req, bool stream) {
  Sample s;
  grpc::ClientContext context;
  conn.Prepare(context);
  const auto start = Clock::now();
  auto ms_since_start = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); };
  v1::AskResponse response;
  grpc::Status status;
  if (stream) {
    auto reader = stub.AskStream(&context, req);
    v1::AskStreamResponse msg;
    while (reader->Read(&msg)) {
      if (msg.has_final()) {
        response = std::move(*msg.mutable_final());
      } else if (s.first_delta_ms < 0 && !msg.delta().empty()) {
        s.first_delta_ms = ms_since_start();
      }
    }
    status = reader->Finish();
  } else {
    status = stub.Ask(&context, req, &response);
  }
  s.latency_ms = ms_since_start();
  s.ok = status.ok();
  if (!s.ok) {
    s.error = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    return s;
  }
  const v1::Timings& t = response.timings();
  s.server_ttft_ms = t.embed_ms() + t.retrieve_ms() + t.queue_ms() + t.prefill_ms();
  s.answer_tokens = response.tokens().answer_tokens();
  s.decode_ms = t.decode_ms();
  s.decode_step_ms = t.decode_step_ms();
  return s;
}

// The q-quantile (0..1) by nearest rank; 0 for no values.
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

nlohmann::json RunLevel(const ServerConnection& conn, const Options& opt, const std::vector<std::string>& questions,
                        int clients) {
  std::vector<Sample> samples(static_cast<size_t>(opt.requests));
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::RagService::NewStub(conn.channel());
      // Client c sends requests c, c + clients, c + 2 clients, ...
      for (int i = c; i < opt.requests; i += clients) {
        v1::AskRequest req;
        req.set_question(questions[static_cast<size_t>(i) % questions.size()]);
        if (opt.top_k > 0) req.set_top_k(opt.top_k);
        if (opt.max_tokens > 0) req.set_max_tokens(opt.max_tokens);
        samples[static_cast<size_t>(i)] = AskOnce(conn, *stub, req, opt.stream);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> latency, first_delta, server_ttft;
  std::map<std::string, int> errors;
  int64_t tokens = 0;
  double decode_seconds = 0, decode_step_seconds = 0;
  int ok = 0;
  for (const Sample& s : samples) {
    if (!s.ok) {
      ++errors[s.error];
      continue;
    }
    ++ok;
    latency.push_back(s.latency_ms);
    server_ttft.push_back(s.server_ttft_ms);
    if (s.first_delta_ms >= 0) first_delta.push_back(s.first_delta_ms);
    tokens += s.answer_tokens;
    decode_seconds += s.decode_ms / 1000.0;
    decode_step_seconds += s.decode_step_ms / 1000.0;
  }
  // Tokens per second of one generation, averaged over all decoding time,
  // times the generations decoding at once.
  const double per_stream_tps = decode_seconds > 0 ? static_cast<double>(tokens) / decode_seconds : 0;
  // The same over only the decode steps each answer rode in (the server's
  // decode_step_ms): the batched steps' own rate, without the pauses for
  // other requests' prefill that decode_ms includes.
  const double per_stream_step_tps =
      decode_step_seconds > 0 ? static_cast<double>(tokens) / decode_step_seconds : 0;
  const int in_flight = std::min(clients, opt.requests);
  nlohmann::json level = {
      {"clients", clients},
      {"requests", opt.requests},
      {"ok", ok},
      {"errors", errors},
      {"seconds", seconds},
      {"requests_per_s", seconds > 0 ? ok / seconds : 0},
      {"latency_ms",
       {{"p50", Quantile(latency, 0.50)}, {"p95", Quantile(latency, 0.95)}, {"p99", Quantile(latency, 0.99)}}},
      {"answer_tokens", tokens},
      {"decode_tps_per_stream", per_stream_tps},
      {"decode_tps_summed", per_stream_tps * in_flight},
      {"decode_step_tps_summed", per_stream_step_tps * in_flight},
      {"answer_tokens_per_wall_s", seconds > 0 ? static_cast<double>(tokens) / seconds : 0},
      {"server_ttft_ms_p50", Quantile(server_ttft, 0.50)},
  };
  if (opt.stream) level["ttft_ms_p50"] = Quantile(first_delta, 0.50);
  return level;
}

int Run(const Options& opt) {
  std::vector<int> levels;
  for (absl::string_view part : absl::StrSplit(opt.clients, ',', absl::SkipWhitespace())) {
    int c = 0;
    if (!absl::SimpleAtoi(part, &c) || c < 1) {
      std::fprintf(stderr, "bench_load: --clients: \"%s\" is not a list of positive numbers\n", opt.clients.c_str());
      return 2;
    }
    levels.push_back(c);
  }
  std::vector<std::string> questions = kDefaultQuestions;
  if (!opt.questions_file.empty()) {
    std::ifstream in(opt.questions_file);
    if (!in) {
      std::fprintf(stderr, "bench_load: cannot read %s\n", opt.questions_file.c_str());
      return 1;
    }
    questions.clear();
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) questions.push_back(line);
    }
    if (questions.empty()) {
      std::fprintf(stderr, "bench_load: %s holds no questions\n", opt.questions_file.c_str());
      return 1;
    }
  }
  auto conn = ServerConnection::Create(opt.connection);
  if (!conn.ok()) return Fail(conn.status());

  // Warm-up calls (not measured) load caches and show a dead server early.
  {
    auto stub = v1::RagService::NewStub((*conn)->channel());
    for (int i = 0; i < opt.warmup; ++i) {
      v1::AskRequest req;
      req.set_question(questions[0]);
      if (opt.top_k > 0) req.set_top_k(opt.top_k);
      if (opt.max_tokens > 0) req.set_max_tokens(opt.max_tokens);
      grpc::ClientContext context;
      (*conn)->Prepare(context);
      v1::AskResponse response;
      if (grpc::Status s = stub->Ask(&context, req, &response); !s.ok()) {
        return Fail((*conn)->Error(s, "Ask"));
      }
    }
  }

  nlohmann::json results = nlohmann::json::array();
  for (int c : levels) {
    if (!opt.json) std::fprintf(stderr, "bench_load: %d client(s), %d requests...\n", c, opt.requests);
    results.push_back(RunLevel(**conn, opt, questions, c));
  }
  // Gains over the first level.
  const nlohmann::json& base = results[0];
  nlohmann::json gains = nlohmann::json::object();
  for (const nlohmann::json& r : results) {
    auto ratio = [&](const char* key) {
      const double b = base[key].get<double>();
      return b > 0 ? r[key].get<double>() / b : 0.0;
    };
    gains[std::to_string(r["clients"].get<int>())] = {{"decode_tps_summed", ratio("decode_tps_summed")},
                                                      {"decode_step_tps_summed", ratio("decode_step_tps_summed")},
                                                      {"answer_tokens_per_wall_s", ratio("answer_tokens_per_wall_s")},
                                                      {"requests_per_s", ratio("requests_per_s")}};
  }
  const nlohmann::json out = {{"server", (*conn)->address()},
                              {"stream", opt.stream},
                              {"requests_per_level", opt.requests},
                              {"max_tokens", opt.max_tokens},
                              {"levels", results},
                              {"gain_over_clients_" + std::to_string(base["clients"].get<int>()), gains}};
  if (opt.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%7s %6s %9s %9s %9s %9s %12s %12s %10s %10s\n", "clients", "ok", "req/s", "p50 ms", "p95 ms", "p99 ms",
              "decode t/s", "wall tok/s", "ttft p50", "gain t/s");
  for (const nlohmann::json& r : results) {
    const double ttft = opt.stream ? r["ttft_ms_p50"].get<double>() : r["server_ttft_ms_p50"].get<double>();
    std::printf("%7d %6d %9.3f %9.0f %9.0f %9.0f %12.2f %12.2f %10.0f %10.2f\n", r["clients"].get<int>(),
                r["ok"].get<int>(), r["requests_per_s"].get<double>(), r["latency_ms"]["p50"].get<double>(),
                r["latency_ms"]["p95"].get<double>(), r["latency_ms"]["p99"].get<double>(),
                r["decode_tps_summed"].get<double>(), r["answer_tokens_per_wall_s"].get<double>(), ttft,
                gains[std::to_string(r["clients"].get<int>())]["decode_tps_summed"].get<double>());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load generator for a running tinyrag server: Ask latency, throughput and batching gain"};
  Options opt;
  opt.connection.timeout_seconds = 600;
  tinyrag::cli::AddConnectionOptions(app, opt.connection);
  app.add_option("--clients", opt.clients, "Concurrency levels, comma-separated")->capture_default_str();
  app.add_option("--requests", opt.requests, "Ask calls per level")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--questions", opt.questions_file, "Questions, one per line (default: a built-in list)");
  app.add_flag("--stream", opt.stream, "Use AskStream and measure the time to the first delta");
  app.add_option("--max-tokens", opt.max_tokens, "Answer length limit per request (0: the server's default)");
  app.add_option("--top-k", opt.top_k, "Passages per prompt (0: the server's default)");
  app.add_option("--warmup", opt.warmup, "Unmeasured Ask calls before the first level")->capture_default_str();
  app.add_flag("--json", opt.json, "Print the results as one JSON object");
  CLI11_PARSE(app, argc, argv);
  return Run(opt);
}
