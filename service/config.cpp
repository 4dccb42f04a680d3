#include "service/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tinyrag {
namespace {

#define TINYRAG_CFG_RETURN_IF_ERROR(expr)   \
  do {                                      \
    if (absl::Status _s = (expr); !_s.ok()) \
      return _s;                            \
  } while (0)

// "FILE:LINE: " for a node parsed from `file` (line 1-based), "FILE: " when
// the node carries no position.
std::string Where(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return absl::StrCat(file, ": ");
  return absl::StrCat(file, ":", mark.line + 1, ": ");
}

// One YAML mapping being read: remembers which keys were read so that the
// rest can be reported as unknown, and rejects duplicate keys (yaml-cpp
// keeps both and would silently use the first).
class Section {
 public:
  // `node` must be a mapping or null (an empty section).
  static absl::StatusOr<Section> Make(const YAML::Node& node, std::string path, const std::string* file) {
    Section s(std::move(path), file, node.Mark());
    if (node.IsNull()) return s;
    if (!node.IsMap()) return s.Error(node, "", "expected a mapping of keys to values");
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return s.Error(entry.first, "", "keys must be plain names");
      const std::string key = entry.first.Scalar();
      for (const auto& [k, v] : s.entries_) {
        if (k == key) return s.Error(entry.first, key, "the key appears twice");
      }
      s.entries_.emplace_back(key, entry.second);
    }
    return s;
  }

  absl::Status Error(const YAML::Node& node, absl::string_view key, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(Where(*file_, node.Mark()), Path(key), ": ", message));
  }
  std::string Path(absl::string_view key) const {
    if (key.empty()) return path_.empty() ? std::string("(top level)") : path_;
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }
  const std::string& file() const { return *file_; }

  // The value of `key`; nullptr when absent. Marks the key as known.
  const YAML::Node* Find(absl::string_view key) {
    used_.insert(std::string(key));
    for (const auto& [k, v] : entries_) {
      if (k == key) return &v;
    }
    return nullptr;
  }

  // Scalar reads leave `out` untouched when the key is absent or has no
  // value (`key:` or `key: ~`).
  absl::Status Read(absl::string_view key, std::string& out) {
    const YAML::Node* n = Find(key);
    if (n == nullptr || n->IsNull()) return absl::OkStatus();
    if (!n->IsScalar()) return Error(*n, key, "expected a string");
    out = n->Scalar();
    return absl::OkStatus();
  }
  absl::Status Read(absl::string_view key, bool& out) { return ReadAs(key, out, "true or false"); }
  absl::Status Read(absl::string_view key, int& out) { return ReadAs(key, out, "an integer"); }
  absl::Status Read(absl::string_view key, int64_t& out) { return ReadAs(key, out, "an integer"); }
  absl::Status Read(absl::string_view key, double& out) { return ReadAs(key, out, "a number"); }
  absl::Status Read(absl::string_view key, size_t& out) {
    int64_t v = static_cast<int64_t>(out);
    TINYRAG_CFG_RETURN_IF_ERROR(ReadAs(key, v, "an integer"));
    if (v < 0) return Error(*Find(key), key, "must not be negative");
    out = static_cast<size_t>(v);
    return absl::OkStatus();
  }
  absl::Status Read(absl::string_view key, std::chrono::milliseconds& out) {
    int64_t v = out.count();
    TINYRAG_CFG_RETURN_IF_ERROR(ReadAs(key, v, "an integer (milliseconds)"));
    out = std::chrono::milliseconds(v);
    return absl::OkStatus();
  }
  absl::Status Read(absl::string_view key, std::vector<std::string>& out) {
    const YAML::Node* n = Find(key);
    if (n == nullptr || n->IsNull()) return absl::OkStatus();
    if (!n->IsSequence()) return Error(*n, key, "expected a list of strings, e.g. [a, b]");
    std::vector<std::string> values;
    for (size_t i = 0; i < n->size(); ++i) {
      const YAML::Node item = (*n)[i];
      if (!item.IsScalar()) return Error(item, absl::StrCat(key, "[", i, "]"), "expected a string");
      values.push_back(item.Scalar());
    }
    out = std::move(values);
    return absl::OkStatus();
  }

  // The mapping under `key` (an empty section when absent).
  absl::StatusOr<Section> Sub(absl::string_view key) {
    const YAML::Node* n = Find(key);
    if (n == nullptr) return Section(Path(key), file_, mark_);
    return Make(*n, Path(key), file_);
  }

  // InvalidArgument naming the first key nobody read.
  absl::Status Finish() const {
    for (const auto& [k, v] : entries_) {
      if (!used_.count(k)) {
        std::vector<std::string> known(used_.begin(), used_.end());
        return absl::InvalidArgumentError(absl::StrCat(Where(*file_, v.Mark()), "unknown key '", Path(k),
                                                       "' (known here: ", absl::StrJoin(known, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  Section(std::string path, const std::string* file, YAML::Mark mark)
      : path_(std::move(path)), file_(file), mark_(mark) {}

  template <typename T>
  absl::Status ReadAs(absl::string_view key, T& out, absl::string_view expected) {
    const YAML::Node* n = Find(key);
    if (n == nullptr || n->IsNull()) return absl::OkStatus();
    T value{};
    if (!n->IsScalar() || !YAML::convert<T>::decode(*n, value)) {
      return Error(*n, key, absl::StrCat("expected ", expected, n->IsScalar() ? absl::StrCat(", got '", n->Scalar(), "'") : ""));
    }
    out = value;
    return absl::OkStatus();
  }

  std::string path_;
  const std::string* file_;
  YAML::Mark mark_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
  std::set<std::string> used_;
};

absl::Status ReadApiKeys(Section& auth, std::vector<ApiKeyConfig>& out) {
  const YAML::Node* list = auth.Find("api_keys");
  if (list == nullptr || list->IsNull()) return absl::OkStatus();
  if (!list->IsSequence()) return auth.Error(*list, "api_keys", "expected a list of keys (- name: ...)");
  std::vector<ApiKeyConfig> keys;
  for (size_t i = 0; i < list->size(); ++i) {
    auto entry = Section::Make((*list)[i], absl::StrCat(auth.Path("api_keys"), "[", i, "]"), &auth.file());
    if (!entry.ok()) return entry.status();
    ApiKeyConfig key;
    TINYRAG_CFG_RETURN_IF_ERROR(entry->Read("name", key.name));
    TINYRAG_CFG_RETURN_IF_ERROR(entry->Read("sha256", key.sha256));
    TINYRAG_CFG_RETURN_IF_ERROR(entry->Read("collections", key.collections));
    TINYRAG_CFG_RETURN_IF_ERROR(entry->Read("admin", key.admin));
    TINYRAG_CFG_RETURN_IF_ERROR(entry->Finish());
    keys.push_back(std::move(key));
  }
  out = std::move(keys);
  return absl::OkStatus();
}

absl::Status ParseAnswerMode(absl::string_view name, ConfiguredAnswerMode& out) {
  if (name == "generative") {
    out = ConfiguredAnswerMode::kGenerative;
  } else if (name == "extractive") {
    out = ConfiguredAnswerMode::kExtractive;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("expected generative or extractive, got '", name, "'"));
  }
  return absl::OkStatus();
}

// Reads the file's sections into `c`; `secret_env` receives webhook.secret_env.
absl::Status ApplyYaml(const YAML::Node& root, const std::string& file, ServerConfig& c, std::string& secret_env) {
  auto top_or = Section::Make(root, "", &file);
  if (!top_or.ok()) return top_or.status();
  Section& top = *top_or;
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("listen", c.listen));
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("data_dir", c.data_dir));
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("encoder", c.encoder));
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("decoder", c.decoder));
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("default_collection", c.default_collection));
  std::string mode;
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("answer_mode", mode));
  if (!mode.empty()) {
    if (absl::Status s = ParseAnswerMode(mode, c.answer_mode); !s.ok()) {
      return top.Error(*top.Find("answer_mode"), "answer_mode", s.message());
    }
  }
  TINYRAG_CFG_RETURN_IF_ERROR(top.Read("threads", c.threads));

  auto gen = top.Sub("generation");
  if (!gen.ok()) return gen.status();
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("context_length", c.generation.context_length));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("max_batch", c.generation.max_batch));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("queue_capacity", c.generation.queue_capacity));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("prefill_chunk", c.generation.prefill_chunk));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("extractive_fallback", c.generation.extractive_fallback));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Read("default_timeout_ms", c.generation.default_timeout_ms));
  TINYRAG_CFG_RETURN_IF_ERROR(gen->Finish());

  auto ans = top.Sub("answer");
  if (!ans.ok()) return ans.status();
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("top_k", c.answer.default_top_k));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("max_top_k", c.answer.max_top_k));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("max_tokens", c.answer.default_max_tokens));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("max_max_tokens", c.answer.max_max_tokens));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("temperature", c.answer.default_temperature));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("confidence_threshold", c.answer.confidence_threshold));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("max_question_bytes", c.answer.max_question_bytes));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Read("confidence_file", c.confidence_file));
  TINYRAG_CFG_RETURN_IF_ERROR(ans->Finish());

  auto ret = top.Sub("retrieval");
  if (!ret.ok()) return ret.status();
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("candidates", c.retrieval.candidates));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("rrf_k", c.retrieval.rrf_k));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("dense_weight", c.retrieval.dense_weight));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("lexical_weight", c.retrieval.lexical_weight));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("index_factory", c.vector_index.factory));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("index_search_parameters", c.vector_index.search_parameters));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("chunk_tokens", c.chunker.target_tokens));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Read("chunk_overlap", c.chunker.overlap_tokens));
  TINYRAG_CFG_RETURN_IF_ERROR(ret->Finish());

  auto auth = top.Sub("auth");
  if (!auth.ok()) return auth.status();
  TINYRAG_CFG_RETURN_IF_ERROR(auth->Read("insecure_no_auth", c.auth.insecure_no_auth));
  TINYRAG_CFG_RETURN_IF_ERROR(ReadApiKeys(*auth, c.auth.api_keys));
  TINYRAG_CFG_RETURN_IF_ERROR(auth->Finish());

  auto tls = top.Sub("tls");
  if (!tls.ok()) return tls.status();
  TINYRAG_CFG_RETURN_IF_ERROR(tls->Read("cert_file", c.tls.cert_file));
  TINYRAG_CFG_RETURN_IF_ERROR(tls->Read("key_file", c.tls.key_file));
  TINYRAG_CFG_RETURN_IF_ERROR(tls->Read("client_ca_file", c.tls.client_ca_file));
  TINYRAG_CFG_RETURN_IF_ERROR(tls->Finish());

  auto metrics = top.Sub("metrics");
  if (!metrics.ok()) return metrics.status();
  TINYRAG_CFG_RETURN_IF_ERROR(metrics->Read("listen", c.metrics.listen));
  TINYRAG_CFG_RETURN_IF_ERROR(metrics->Finish());

  auto log = top.Sub("log");
  if (!log.ok()) return log.status();
  TINYRAG_CFG_RETURN_IF_ERROR(log->Read("level", c.log.level));
  TINYRAG_CFG_RETURN_IF_ERROR(log->Read("format", c.log.format));
  TINYRAG_CFG_RETURN_IF_ERROR(log->Finish());

  auto hook = top.Sub("webhook");
  if (!hook.ok()) return hook.status();
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("url", c.webhook.url));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("secret", c.webhook.secret));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("secret_env", secret_env));
  if (!c.webhook.secret.empty() && !secret_env.empty()) {
    return hook->Error(*hook->Find("secret_env"), "secret_env", "set either secret or secret_env, not both");
  }
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("link_prefix", c.webhook.link_prefix));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("timeout_ms", c.webhook.timeout));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("connect_timeout_ms", c.webhook.connect_timeout));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("base_backoff_ms", c.webhook.base_backoff));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("max_backoff_ms", c.webhook.max_backoff));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("jitter", c.webhook.jitter));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("max_attempts", c.webhook.max_attempts));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("max_rejected_attempts", c.webhook.max_rejected_attempts));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Read("poll_interval_ms", c.webhook.poll_interval));
  TINYRAG_CFG_RETURN_IF_ERROR(hook->Finish());

  return top.Finish();
}

absl::Status ApplyEnvironment(const GetenvFn& getenv, ServerConfig& c) {
  // An empty variable counts as unset: container tools often pass unset
  // variables through as empty strings.
  auto get = [&](std::string_view name) -> std::optional<std::string> {
    std::optional<std::string> v = getenv(name);
    if (v.has_value() && v->empty()) return std::nullopt;
    return v;
  };
  const std::pair<std::string_view, std::string*> strings[] = {
      {"TINYRAG_LISTEN", &c.listen},
      {"TINYRAG_DATA_DIR", &c.data_dir},
      {"TINYRAG_ENCODER", &c.encoder},
      {"TINYRAG_DECODER", &c.decoder},
      {"TINYRAG_DEFAULT_COLLECTION", &c.default_collection},
      {"TINYRAG_LOG_LEVEL", &c.log.level},
      {"TINYRAG_LOG_FORMAT", &c.log.format},
      {"TINYRAG_METRICS_LISTEN", &c.metrics.listen},
      {"TINYRAG_WEBHOOK_URL", &c.webhook.url},
      {"TINYRAG_WEBHOOK_SECRET", &c.webhook.secret},
  };
  for (const auto& [name, field] : strings) {
    if (auto v = get(name)) *field = *v;
  }
  if (auto v = get("TINYRAG_ANSWER_MODE")) {
    if (absl::Status s = ParseAnswerMode(*v, c.answer_mode); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable TINYRAG_ANSWER_MODE: ", s.message()));
    }
  }
  if (auto v = get("TINYRAG_THREADS")) {
    if (!absl::SimpleAtoi(*v, &c.threads)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable TINYRAG_THREADS: expected an integer, got '", *v, "'"));
    }
  }
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

absl::Status Invalid(absl::string_view key, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("configuration ", key, ": ", message));
}

absl::Status ValidateRanges(const ServerConfig& c) {
  if (c.threads < 0 || c.threads > 1024) return Invalid("threads", "must be in [0, 1024] (0 = all hardware threads)");
  if (c.default_collection.empty()) return Invalid("default_collection", "must not be empty");

  const GenerationConfig& g = c.generation;
  if (g.context_length < 64 || g.context_length > (1 << 20)) {
    return Invalid("generation.context_length", "must be in [64, 1048576]");
  }
  if (g.max_batch < 1 || g.max_batch > 256) return Invalid("generation.max_batch", "must be in [1, 256]");
  if (g.queue_capacity < 0 || g.queue_capacity > 1000000) {
    return Invalid("generation.queue_capacity", "must be in [0, 1000000]");
  }
  if (g.prefill_chunk < 16 || g.prefill_chunk > 4096) {
    return Invalid("generation.prefill_chunk", "must be in [16, 4096]");
  }
  if (g.default_timeout_ms < 1 || g.default_timeout_ms > 86400000) {
    return Invalid("generation.default_timeout_ms", "must be in [1, 86400000] (one day)");
  }

  const AnswererOptions& a = c.answer;
  if (a.max_top_k < 1 || a.max_top_k > 1000) return Invalid("answer.max_top_k", "must be in [1, 1000]");
  if (a.default_top_k < 1 || a.default_top_k > a.max_top_k) {
    return Invalid("answer.top_k", absl::StrCat("must be in [1, answer.max_top_k = ", a.max_top_k, "]"));
  }
  if (a.max_max_tokens < 1 || a.max_max_tokens >= g.context_length) {
    return Invalid("answer.max_max_tokens",
                   absl::StrCat("must be in [1, generation.context_length = ", g.context_length, ")"));
  }
  if (a.default_max_tokens < 1 || a.default_max_tokens > a.max_max_tokens) {
    return Invalid("answer.max_tokens", absl::StrCat("must be in [1, answer.max_max_tokens = ", a.max_max_tokens, "]"));
  }
  if (!(a.default_temperature >= 0 && a.default_temperature <= 2)) return Invalid("answer.temperature", "must be in [0, 2]");
  if (!(a.confidence_threshold >= 0 && a.confidence_threshold <= 1)) {
    return Invalid("answer.confidence_threshold", "must be in [0, 1]");
  }
  if (a.max_question_bytes < 1 || a.max_question_bytes > (1u << 20)) {
    return Invalid("answer.max_question_bytes", "must be in [1, 1048576]");
  }

  const RetrieverOptions& r = c.retrieval;
  if (r.candidates < 1 || r.candidates > 10000) return Invalid("retrieval.candidates", "must be in [1, 10000]");
  if (!(r.rrf_k >= 0) || !std::isfinite(r.rrf_k)) return Invalid("retrieval.rrf_k", "must be a finite number >= 0");
  if (!(r.dense_weight >= 0) || !std::isfinite(r.dense_weight)) {
    return Invalid("retrieval.dense_weight", "must be a finite number >= 0");
  }
  if (!(r.lexical_weight >= 0) || !std::isfinite(r.lexical_weight)) {
    return Invalid("retrieval.lexical_weight", "must be a finite number >= 0");
  }
  if (r.dense_weight == 0 && r.lexical_weight == 0) {
    return Invalid("retrieval.dense_weight", "and retrieval.lexical_weight cannot both be 0");
  }
  if (c.vector_index.factory.empty()) return Invalid("retrieval.index_factory", "must not be empty (e.g. Flat, HNSW32)");
  if (c.chunker.target_tokens < 8 || c.chunker.target_tokens > 8192) {
    return Invalid("retrieval.chunk_tokens", "must be in [8, 8192]");
  }
  if (c.chunker.overlap_tokens < 0 || c.chunker.overlap_tokens >= c.chunker.target_tokens) {
    return Invalid("retrieval.chunk_overlap", "must be in [0, retrieval.chunk_tokens)");
  }
  return absl::OkStatus();
}

absl::Status ValidateWebhook(const WebhookConfig& w) {
  if (w.url.empty()) return absl::OkStatus();
  if (!absl::StartsWith(w.url, "http://") && !absl::StartsWith(w.url, "https://")) {
    return Invalid("webhook.url", "must start with http:// or https://");
  }
  if (w.secret.empty()) {
    return Invalid("webhook.secret",
                   "a webhook url needs a signing secret (webhook.secret_env or TINYRAG_WEBHOOK_SECRET)");
  }
  if (w.timeout.count() < 1) return Invalid("webhook.timeout_ms", "must be >= 1");
  if (w.connect_timeout.count() < 1) return Invalid("webhook.connect_timeout_ms", "must be >= 1");
  if (w.base_backoff.count() < 1) return Invalid("webhook.base_backoff_ms", "must be >= 1");
  if (w.max_backoff < w.base_backoff) return Invalid("webhook.max_backoff_ms", "must be >= webhook.base_backoff_ms");
  if (!(w.jitter >= 0 && w.jitter < 1)) return Invalid("webhook.jitter", "must be in [0, 1)");
  if (w.max_attempts < 1) return Invalid("webhook.max_attempts", "must be >= 1");
  if (w.max_rejected_attempts < 1) return Invalid("webhook.max_rejected_attempts", "must be >= 1");
  if (w.poll_interval.count() < 1) return Invalid("webhook.poll_interval_ms", "must be >= 1");
  return absl::OkStatus();
}

absl::Status ValidatePaths(const ServerConfig& c) {
  if (c.data_dir.empty()) return Invalid("data_dir", "is required (data_dir, TINYRAG_DATA_DIR or --data-dir)");
  {
    std::error_code ec;
    if (std::filesystem::exists(c.data_dir, ec) && !std::filesystem::is_directory(c.data_dir, ec)) {
      return Invalid("data_dir", absl::StrCat(c.data_dir, " is not a directory"));
    }
  }
  if (c.encoder.empty()) return Invalid("encoder", "is required (encoder, TINYRAG_ENCODER or --encoder)");
  const std::pair<absl::string_view, const std::string*> files[] = {
      {"encoder", &c.encoder},           {"decoder", &c.decoder},       {"answer.confidence_file", &c.confidence_file},
      {"tls.cert_file", &c.tls.cert_file}, {"tls.key_file", &c.tls.key_file}, {"tls.client_ca_file", &c.tls.client_ca_file},
  };
  for (const auto& [key, path] : files) {
    if (!path->empty() && !FileExists(*path)) return Invalid(key, absl::StrCat(*path, " does not exist"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view ConfiguredAnswerModeName(ConfiguredAnswerMode mode) {
  return mode == ConfiguredAnswerMode::kExtractive ? "extractive" : "generative";
}

GetenvFn ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& yaml_path, const GetenvFn& getenv) {
  ServerConfig config;
  std::string secret_env;
  if (!yaml_path.empty()) {
    std::ifstream in(yaml_path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("config file ", yaml_path, ": cannot be opened"));
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return absl::NotFoundError(absl::StrCat("config file ", yaml_path, ": read failed"));
    YAML::Node root;
    try {
      root = YAML::Load(text.str());
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(Where(yaml_path, e.mark), "invalid YAML: ", e.msg));
    }
    try {
      TINYRAG_CFG_RETURN_IF_ERROR(ApplyYaml(root, yaml_path, config, secret_env));
    } catch (const YAML::Exception& e) {
      // Reads above never throw; this guards yaml-cpp's own accessors.
      return absl::InvalidArgumentError(absl::StrCat(Where(yaml_path, e.mark), e.msg));
    }
  }
  TINYRAG_CFG_RETURN_IF_ERROR(ApplyEnvironment(getenv, config));
  // TINYRAG_WEBHOOK_SECRET (applied above) wins over the file's secret_env.
  const std::optional<std::string> direct = getenv("TINYRAG_WEBHOOK_SECRET");
  if (!secret_env.empty() && !(direct.has_value() && !direct->empty())) {
    std::optional<std::string> secret = getenv(secret_env);
    if (!secret.has_value() || secret->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(yaml_path, ": webhook.secret_env: environment variable ",
                                                     secret_env, " is not set"));
    }
    config.webhook.secret = *secret;
  }
  return config;
}

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view address_std) {
  const absl::string_view address(address_std.data(), address_std.size());
  ListenAddress out;
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() == 5) return absl::InvalidArgumentError("listen address 'unix:' needs a socket path");
    out.host = std::string(address);
    out.unix_socket = true;
    return out;
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "': ", why, " (expected host:port, [ipv6]:port or unix:PATH)"));
  };
  absl::string_view host, port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("unclosed [ or no port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) return bad("an IPv6 host needs brackets");
  }
  if (host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != absl::string_view::npos) {
    return bad("the port must be a number");
  }
  int p = 0;
  if (!absl::SimpleAtoi(port, &p) || p > 65535) return bad("the port must be in [0, 65535]");
  out.host = std::string(host);
  out.port = p;
  return out;
}

bool IsLoopbackAddress(std::string_view address) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(address);
  if (!parsed.ok()) return false;
  if (parsed->unix_socket || parsed->host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, parsed->host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, parsed->host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

absl::Status ValidateServerConfig(const ServerConfig& c) {
  if (absl::Status s = ParseListenAddress(c.listen).status(); !s.ok()) return Invalid("listen", s.message());
  TINYRAG_CFG_RETURN_IF_ERROR(ValidateRanges(c));
  TINYRAG_CFG_RETURN_IF_ERROR(ValidatePaths(c));

  if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
    return Invalid("tls", "cert_file and key_file go together: set both or neither");
  }
  if (!c.tls.client_ca_file.empty() && c.tls.cert_file.empty()) {
    return Invalid("tls.client_ca_file", "mutual TLS needs tls.cert_file and tls.key_file too");
  }
  if (absl::Status s = ValidateApiKeyConfigs(c.auth.api_keys); !s.ok()) return Invalid("auth.api_keys", s.message());
  if (c.auth.api_keys.empty() && !c.auth.insecure_no_auth && !IsLoopbackAddress(c.listen)) {
    return Invalid("listen", absl::StrCat(c.listen,
                                          " is not a loopback address and no API keys are configured: add "
                                          "auth.api_keys (`tinyrag keys new`), listen on 127.0.0.1, or set "
                                          "auth.insecure_no_auth (--insecure-no-auth)"));
  }
  if (!c.metrics.listen.empty()) {
    absl::StatusOr<ListenAddress> m = ParseListenAddress(c.metrics.listen);
    if (!m.ok()) return Invalid("metrics.listen", m.status().message());
    if (m->unix_socket) return Invalid("metrics.listen", "must be host:port (the endpoint is plain HTTP over TCP)");
  }
  if (c.log.level != "debug" && c.log.level != "info" && c.log.level != "warn" && c.log.level != "error") {
    return Invalid("log.level", absl::StrCat("expected debug, info, warn or error, got '", c.log.level, "'"));
  }
  if (c.log.format != "json" && c.log.format != "text") {
    return Invalid("log.format", absl::StrCat("expected json or text, got '", c.log.format, "'"));
  }
  return ValidateWebhook(c.webhook);
}

#undef TINYRAG_CFG_RETURN_IF_ERROR

}  // namespace tinyrag
