// The server's configuration: defaults < YAML file < TINYRAG_* environment <
// command-line flags (the flags are applied by `tinyrag serve` on the loaded
// struct before ValidateServerConfig). docs/configuration.md is the
// reference for every key; data/tinyrag.example.yaml is a complete example.
//
// The YAML is strict: an unknown key or a value of the wrong type is an
// error naming the file, the key path and the line, so a typo never falls
// back to a default silently.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/chunker.h"
#include "index/retriever.h"
#include "index/vector_index.h"
#include "service/answerer.h"
#include "service/auth.h"
#include "service/webhook.h"

namespace tinyrag {

// How the server answers when a request does not choose.
enum class ConfiguredAnswerMode { kGenerative, kExtractive };
// "generative" or "extractive".
std::string_view ConfiguredAnswerModeName(ConfiguredAnswerMode mode);

struct GenerationConfig {
  int context_length = 2048;  // KV cache per sequence; the server caps it at the model's
  int max_batch = 4;          // sequences decoded together by the scheduler
  int queue_capacity = 32;    // requests waiting beyond the running ones; more: RESOURCE_EXHAUSTED
  // Prompt tokens per forward pass: running requests wait at most one chunk
  // for a newly admitted prompt between their tokens.
  int prefill_chunk = 128;
  // When the generative queue is full, requests that did not ask for a mode
  // are answered extractively (no decoder) instead of RESOURCE_EXHAUSTED.
  bool extractive_fallback = true;
  int64_t default_timeout_ms = 120000;  // deadline of a request whose client set none
};

struct AuthConfig {
  // Without api_keys the server only listens on a loopback address, unless
  // this is set (then every caller is an anonymous admin).
  bool insecure_no_auth = false;
  std::vector<ApiKeyConfig> api_keys;
};

struct TlsConfig {
  std::string cert_file;  // PEM; with key_file, the server speaks TLS
  std::string key_file;
  std::string client_ca_file;  // PEM; when set, clients must present a certificate it signed
  bool enabled() const { return !cert_file.empty(); }
};

struct MetricsConfig {
  std::string listen;  // host:port of the Prometheus endpoint; empty = off
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  std::string format = "json";  // json | text
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";  // host:port, [v6]:port or unix:PATH
  std::string data_dir;
  std::string encoder;  // model path
  std::string decoder;  // model path; empty: the server answers extractively
  std::string default_collection = "default";
  ConfiguredAnswerMode answer_mode = ConfiguredAnswerMode::kGenerative;
  int threads = 0;  // compute threads; 0 = every hardware thread

  GenerationConfig generation;
  // YAML `answer:` top_k, max_top_k, max_tokens, max_max_tokens,
  // temperature, confidence_threshold, max_question_bytes.
  AnswererOptions answer;
  // Confidence weights (service/confidence.h JSON). Empty: DATA_DIR/confidence.json
  // when it exists (written by `tinyrag calibrate`), else the defaults in
  // data/confidence_defaults.json. YAML `answer.confidence_file`.
  std::string confidence_file;

  // YAML `retrieval:` candidates, rrf_k, dense_weight, lexical_weight.
  RetrieverOptions retrieval;
  // YAML `retrieval.index_factory` and `retrieval.index_search_parameters`.
  VectorIndexOptions vector_index;
  // YAML `retrieval.chunk_tokens` (target_tokens) and `retrieval.chunk_overlap`
  // (overlap_tokens) for documents ingested through the server.
  ChunkerOptions chunker;

  AuthConfig auth;
  TlsConfig tls;
  MetricsConfig metrics;
  LogConfig log;
  // YAML `webhook:`; no delivery when url is empty. The secret comes from
  // `secret`, or the variable named by `secret_env`, or TINYRAG_WEBHOOK_SECRET.
  WebhookConfig webhook;
};

// Reads the environment; nullopt when a variable is unset.
using GetenvFn = std::function<std::optional<std::string>(std::string_view name)>;
// A GetenvFn over the process environment (std::getenv).
GetenvFn ProcessEnvironment();

// Defaults, then `yaml_path` (skipped when empty), then the environment:
// TINYRAG_LISTEN, TINYRAG_DATA_DIR, TINYRAG_ENCODER, TINYRAG_DECODER,
// TINYRAG_DEFAULT_COLLECTION, TINYRAG_ANSWER_MODE, TINYRAG_THREADS,
// TINYRAG_LOG_LEVEL, TINYRAG_LOG_FORMAT, TINYRAG_METRICS_LISTEN,
// TINYRAG_WEBHOOK_URL, TINYRAG_WEBHOOK_SECRET (an empty variable counts as
// unset). NotFound when the file cannot be read; InvalidArgument for bad
// YAML, an unknown key, a wrong type, an unparsable variable, or a
// `webhook.secret_env` naming an unset variable — the message names the
// file, the key path and the line (1-based) where known. Ranges and
// cross-field rules are ValidateServerConfig's. Thread-safe if getenv is.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& yaml_path, const GetenvFn& getenv);

// OK when `config` can be served: ranges of every number, data_dir and
// encoder set (and the model files, TLS files and confidence file present),
// TLS cert and key both or neither (a client CA only with them), API keys
// well-formed, a webhook secret when a webhook url is set, valid log
// level/format and addresses, and — without API keys — a loopback listen
// address unless auth.insecure_no_auth. InvalidArgument naming the key
// otherwise. Reads the file system only to check that files exist.
absl::Status ValidateServerConfig(const ServerConfig& config);

// A listen address split into host and port. The host keeps no brackets
// ("::1" for "[::1]:50051"). For "unix:PATH", host is the whole address and
// port is 0.
struct ListenAddress {
  std::string host;
  int port = 0;
  bool unix_socket = false;
};
// Parses "host:port", "[v6]:port" or "unix:PATH" (port 0..65535; 0 = any).
// InvalidArgument naming `address` otherwise. Pure.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view address);

// True for 127.0.0.0/8, ::1, "localhost" and unix sockets: addresses only
// this machine can reach. False for anything else, including unparsable
// addresses and 0.0.0.0. Pure.
bool IsLoopbackAddress(std::string_view address);

}  // namespace tinyrag
