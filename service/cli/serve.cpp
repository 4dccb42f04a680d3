// `tinyrag serve [--config FILE] [--data-dir DIR --encoder MODEL --decoder MODEL] [--listen ADDR]`
// (../shared/docs/cli.md): runs the gRPC service until SIGINT or SIGTERM.
// The configuration is the YAML file, then TINYRAG_* variables, then these
// flags (docs/configuration.md). Prints "listening on ADDR" on stderr once the
// health service says SERVING; on a signal it stops taking calls, drains the
// ones in flight (up to --drain seconds) and exits 0.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/cli/command.h"
#include "service/config.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/server/observability.h"
#include "service/server/server.h"

namespace tinyrag::cli {
namespace {

struct ServeArgs {
  std::string config;
  std::optional<std::string> data_dir, encoder, decoder, listen, metrics_listen, log_level, log_format;
  std::optional<int> threads, max_batch, queue_capacity;
  bool insecure_no_auth = false;
  double drain_seconds = 30;
};

int Serve(const ServeArgs& args) {
  auto loaded = LoadServerConfig(args.config, ProcessEnvironment());
  if (!loaded.ok()) return ReportError(loaded.status());
  ServerConfig config = std::move(*loaded);
  if (args.data_dir) config.data_dir = *args.data_dir;
  if (args.encoder) config.encoder = *args.encoder;
  if (args.decoder) config.decoder = *args.decoder;
  if (args.listen) config.listen = *args.listen;
  if (args.metrics_listen) config.metrics.listen = *args.metrics_listen;
  if (args.log_level) config.log.level = *args.log_level;
  if (args.log_format) config.log.format = *args.log_format;
  if (args.threads) config.threads = *args.threads;
  if (args.max_batch) config.generation.max_batch = *args.max_batch;
  if (args.queue_capacity) config.generation.queue_capacity = *args.queue_capacity;
  if (args.insecure_no_auth) config.auth.insecure_no_auth = true;
  if (absl::Status valid = ValidateServerConfig(config); !valid.ok()) return ReportError(valid);
  if (absl::Status s = InitLogging(config.log.level, config.log.format); !s.ok()) return ReportError(s);

  // Signals are taken by sigwait below: block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerMetrics metrics;
  auto server = server::RagServer::Start(config, server::MetricsAndLogHooks(&metrics));
  if (!server.ok()) return ReportError(server.status());
  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (!config.metrics.listen.empty()) {
    auto started = MetricsHttpServer::Start(&metrics, config.metrics.listen);
    if (!started.ok()) return ReportError(started.status());
    metrics_http = std::move(*started);
  }
  LogEvent(LogLevel::kInfo, "serving",
           {{"address", (*server)->address()},
            {"encoder", config.encoder},
            {"decoder", config.decoder},
            {"data_dir", config.data_dir},
            {"auth", config.auth.api_keys.empty() ? "off" : "api_keys"},
            {"tls", config.tls.enabled()},
            {"metrics", metrics_http ? config.metrics.listen : ""}});
  std::fprintf(stderr, "listening on %s\n", (*server)->address().c_str());
  std::fflush(stderr);

  // Wait for a signal, refreshing the queue gauges once a second meanwhile.
  int signal = 0;
  const timespec tick{.tv_sec = 1, .tv_nsec = 0};
  while (signal <= 0) {
    metrics.SetQueueDepth((*server)->asks_waiting());
    metrics.SetRunning((*server)->asks_running());
    signal = sigtimedwait(&signals, nullptr, &tick);
  }
  std::fprintf(stderr, "tinyrag: %s received; draining calls in flight (up to %g s)\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM", args.drain_seconds);
  (*server)->Shutdown(std::chrono::milliseconds(static_cast<int64_t>(args.drain_seconds * 1000)));
  server->reset();
  metrics_http.reset();
  std::fprintf(stderr, "tinyrag: stopped\n");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the gRPC service (RagService, EscalationService, health, reflection) until SIGINT/SIGTERM");
  cmd->add_option("--config", args->config, "YAML configuration file (docs/configuration.md)");
  cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder (the server owns it while it runs)");
  cmd->add_option("--encoder", args->encoder, "Encoder: a .gguf file or a sentence-transformers folder");
  cmd->add_option("--decoder", args->decoder, "Decoder: a .gguf file");
  cmd->add_option("--listen", args->listen, "Address to listen on (default 127.0.0.1:50051; port 0: any free port)");
  cmd->add_option("--metrics-listen", args->metrics_listen, "Prometheus endpoint address, e.g. 127.0.0.1:9464");
  cmd->add_option("--log-level", args->log_level, "debug, info, warn or error (default: info)");
  cmd->add_option("--log-format", args->log_format, "json or text (default: json)");
  cmd->add_option("-t,--threads", args->threads, "Compute threads (default: all hardware threads)");
  cmd->add_option("--max-batch", args->max_batch, "Generations decoded together")->check(CLI::PositiveNumber);
  cmd->add_option("--queue-capacity", args->queue_capacity, "Requests that may wait; more get RESOURCE_EXHAUSTED")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--insecure-no-auth", args->insecure_no_auth,
                "Serve without API keys on a non-loopback address (every caller is an admin)");
  cmd->add_option("--drain", args->drain_seconds, "Seconds calls in flight may take to finish at shutdown")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args, &exit_code] { exit_code = Serve(*args); });
}

}  // namespace tinyrag::cli
