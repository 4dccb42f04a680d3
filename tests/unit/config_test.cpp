#include "service/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
const fs::path kRepo = fs::path(__FILE__).parent_path() / "../..";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("config_test_", getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_.clear();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  GetenvFn Env() {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = env_.find(std::string(name));
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  absl::StatusOr<ServerConfig> LoadText(const std::string& yaml) { return LoadServerConfig(Write("c.yaml", yaml), Env()); }
  // A config that validates: existing data dir and encoder file.
  ServerConfig Valid() {
    ServerConfig c;
    c.data_dir = dir_.string();
    c.encoder = Write("encoder.gguf", "x");
    return c;
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

void ExpectError(const absl::Status& s, absl::StatusCode code, std::initializer_list<absl::string_view> parts) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s;
  for (auto part : parts) EXPECT_TRUE(absl::StrContains(s.message(), part)) << "missing '" << part << "' in: " << s;
}

TEST_F(ConfigTest, DefaultConstructedHasTheDocumentedDefaults) {
  const ServerConfig c;
  EXPECT_EQ(c.listen, "127.0.0.1:50051");
  EXPECT_EQ(c.default_collection, "default");
  EXPECT_EQ(c.answer_mode, ConfiguredAnswerMode::kGenerative);
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.generation.context_length, 2048);
  EXPECT_EQ(c.generation.max_batch, 4);
  EXPECT_EQ(c.generation.queue_capacity, 32);
  EXPECT_EQ(c.generation.default_timeout_ms, 120000);
  EXPECT_EQ(c.vector_index.factory, "Flat");
  EXPECT_FALSE(c.auth.insecure_no_auth);
  EXPECT_TRUE(c.auth.api_keys.empty());
  EXPECT_TRUE(c.metrics.listen.empty());
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "json");
  EXPECT_FALSE(c.tls.enabled());
}

TEST_F(ConfigTest, EmptyPathGivesDefaultsAndEnvironment) {
  env_["TINYRAG_DATA_DIR"] = "/srv/kb";
  auto c = LoadServerConfig("", Env());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir, "/srv/kb");
  EXPECT_EQ(c->listen, "127.0.0.1:50051");
}

TEST_F(ConfigTest, ReadsEverySection) {
  const std::string key_hash = HashApiKey("k");
  auto c = LoadText(absl::StrCat(R"(
listen: 0.0.0.0:6000
data_dir: /data
encoder: /m/enc.gguf
decoder: /m/dec.gguf
default_collection: kb
answer_mode: extractive
threads: 2
generation: {context_length: 4096, max_batch: 8, queue_capacity: 5, prefill_chunk: 64, default_timeout_ms: 9000}
answer:
  top_k: 3
  max_top_k: 20
  max_tokens: 100
  max_max_tokens: 300
  temperature: 0.7
  confidence_threshold: 0.25
  max_question_bytes: 2000
  confidence_file: /c.json
retrieval:
  candidates: 40
  rrf_k: 30
  dense_weight: 2
  lexical_weight: 0.5
  index_factory: HNSW32
  index_search_parameters: efSearch=64
  chunk_tokens: 128
  chunk_overlap: 16
auth:
  insecure_no_auth: true
  api_keys:
    - name: ops
      sha256: )", key_hash, R"(
      collections: ["*"]
      admin: true
    - {name: reader, sha256: )", HashApiKey("r"), R"(, collections: [docs, faq]}
tls: {cert_file: /t/c.pem, key_file: /t/k.pem, client_ca_file: /t/ca.pem}
metrics: {listen: "127.0.0.1:9464"}
log: {level: debug, format: text}
webhook:
  url: https://desk.example/hook
  secret: s
  link_prefix: https://desk.example/e/
  timeout_ms: 1500
  connect_timeout_ms: 500
  base_backoff_ms: 100
  max_backoff_ms: 60000
  jitter: 0.1
  max_attempts: 7
  max_rejected_attempts: 2
  poll_interval_ms: 250
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:6000");
  EXPECT_EQ(c->data_dir, "/data");
  EXPECT_EQ(c->encoder, "/m/enc.gguf");
  EXPECT_EQ(c->decoder, "/m/dec.gguf");
  EXPECT_EQ(c->default_collection, "kb");
  EXPECT_EQ(c->answer_mode, ConfiguredAnswerMode::kExtractive);
  EXPECT_EQ(c->threads, 2);
  EXPECT_EQ(c->generation.context_length, 4096);
  EXPECT_EQ(c->generation.max_batch, 8);
  EXPECT_EQ(c->generation.queue_capacity, 5);
  EXPECT_EQ(c->generation.prefill_chunk, 64);
  EXPECT_EQ(c->generation.default_timeout_ms, 9000);
  EXPECT_EQ(c->answer.default_top_k, 3);
  EXPECT_EQ(c->answer.max_top_k, 20);
  EXPECT_EQ(c->answer.default_max_tokens, 100);
  EXPECT_EQ(c->answer.max_max_tokens, 300);
  EXPECT_DOUBLE_EQ(c->answer.default_temperature, 0.7);
  EXPECT_DOUBLE_EQ(c->answer.confidence_threshold, 0.25);
  EXPECT_EQ(c->answer.max_question_bytes, 2000u);
  EXPECT_EQ(c->confidence_file, "/c.json");
  EXPECT_EQ(c->retrieval.candidates, 40);
  EXPECT_DOUBLE_EQ(c->retrieval.rrf_k, 30);
  EXPECT_DOUBLE_EQ(c->retrieval.dense_weight, 2);
  EXPECT_DOUBLE_EQ(c->retrieval.lexical_weight, 0.5);
  EXPECT_EQ(c->vector_index.factory, "HNSW32");
  EXPECT_EQ(c->vector_index.search_parameters, "efSearch=64");
  EXPECT_EQ(c->chunker.target_tokens, 128);
  EXPECT_EQ(c->chunker.overlap_tokens, 16);
  EXPECT_TRUE(c->auth.insecure_no_auth);
  ASSERT_EQ(c->auth.api_keys.size(), 2u);
  EXPECT_EQ(c->auth.api_keys[0].name, "ops");
  EXPECT_EQ(c->auth.api_keys[0].sha256, key_hash);
  EXPECT_EQ(c->auth.api_keys[0].collections, std::vector<std::string>{"*"});
  EXPECT_TRUE(c->auth.api_keys[0].admin);
  EXPECT_EQ(c->auth.api_keys[1].collections, (std::vector<std::string>{"docs", "faq"}));
  EXPECT_FALSE(c->auth.api_keys[1].admin);
  EXPECT_EQ(c->tls.cert_file, "/t/c.pem");
  EXPECT_EQ(c->tls.key_file, "/t/k.pem");
  EXPECT_EQ(c->tls.client_ca_file, "/t/ca.pem");
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, "text");
  EXPECT_EQ(c->webhook.url, "https://desk.example/hook");
  EXPECT_EQ(c->webhook.secret, "s");
  EXPECT_EQ(c->webhook.link_prefix, "https://desk.example/e/");
  EXPECT_EQ(c->webhook.timeout.count(), 1500);
  EXPECT_EQ(c->webhook.connect_timeout.count(), 500);
  EXPECT_EQ(c->webhook.base_backoff.count(), 100);
  EXPECT_EQ(c->webhook.max_backoff.count(), 60000);
  EXPECT_DOUBLE_EQ(c->webhook.jitter, 0.1);
  EXPECT_EQ(c->webhook.max_attempts, 7);
  EXPECT_EQ(c->webhook.max_rejected_attempts, 2);
  EXPECT_EQ(c->webhook.poll_interval.count(), 250);
}

TEST_F(ConfigTest, EmptyFileAndMissingKeysKeepDefaults) {
  auto empty = LoadText("");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->listen, "127.0.0.1:50051");
  auto partial = LoadText("generation:\n  max_batch: 2\ndecoder:\n");
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->generation.max_batch, 2);
  EXPECT_EQ(partial->generation.context_length, 2048);
  EXPECT_EQ(partial->decoder, "");
}

TEST_F(ConfigTest, UnknownKeysAreErrorsWithPathAndLine) {
  ExpectError(LoadText("listen: 127.0.0.1:1\nlisten_addr: x\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:2:", "unknown key 'listen_addr'"});
  ExpectError(LoadText("generation:\n  max_batch: 2\n  max_bach: 3\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:3:", "unknown key 'generation.max_bach'", "max_batch"});
  ExpectError(LoadText("auth:\n  api_keys:\n    - name: a\n      sha265: x\n").status(),
              absl::StatusCode::kInvalidArgument, {"c.yaml:4:", "auth.api_keys[0].sha265"});
}

TEST_F(ConfigTest, WrongTypesAreErrors) {
  ExpectError(LoadText("threads: many\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:1:", "threads", "expected an integer", "'many'"});
  ExpectError(LoadText("generation:\n  max_batch: 2.5\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:2:", "generation.max_batch", "integer"});
  ExpectError(LoadText("auth: {insecure_no_auth: 1}\n").status(), absl::StatusCode::kInvalidArgument,
              {"auth.insecure_no_auth", "true or false"});
  ExpectError(LoadText("answer:\n  temperature: [1]\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:2:", "answer.temperature", "a number"});
  ExpectError(LoadText("listen: {a: 1}\n").status(), absl::StatusCode::kInvalidArgument, {"listen", "a string"});
  ExpectError(LoadText("generation: 5\n").status(), absl::StatusCode::kInvalidArgument, {"generation", "mapping"});
  ExpectError(LoadText("- a\n- b\n").status(), absl::StatusCode::kInvalidArgument, {"(top level)", "mapping"});
  ExpectError(LoadText("auth:\n  api_keys: {name: a}\n").status(), absl::StatusCode::kInvalidArgument,
              {"auth.api_keys", "list"});
  ExpectError(LoadText("auth:\n  api_keys:\n    - name: a\n      collections: docs\n").status(),
              absl::StatusCode::kInvalidArgument, {"auth.api_keys[0].collections", "list"});
  ExpectError(LoadText("answer:\n  max_question_bytes: -1\n").status(), absl::StatusCode::kInvalidArgument,
              {"answer.max_question_bytes", "negative"});
  ExpectError(LoadText("answer_mode: creative\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:1:", "answer_mode", "generative or extractive"});
  ExpectError(LoadText("threads: 99999999999999\n").status(), absl::StatusCode::kInvalidArgument, {"threads"});
}

TEST_F(ConfigTest, DuplicateKeysAndBadYamlAreErrors) {
  ExpectError(LoadText("threads: 1\nthreads: 2\n").status(), absl::StatusCode::kInvalidArgument,
              {"c.yaml:2:", "threads", "twice"});
  ExpectError(LoadText("log: {level: info\n").status(), absl::StatusCode::kInvalidArgument, {"c.yaml:", "invalid YAML"});
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  ExpectError(LoadServerConfig((dir_ / "nope.yaml").string(), Env()).status(), absl::StatusCode::kNotFound,
              {"nope.yaml"});
}

TEST_F(ConfigTest, EnvironmentOverridesTheFile) {
  env_ = {{"TINYRAG_LISTEN", "127.0.0.1:7000"},    {"TINYRAG_DATA_DIR", "/env/data"},
          {"TINYRAG_ENCODER", "/env/enc"},         {"TINYRAG_DECODER", "/env/dec"},
          {"TINYRAG_LOG_LEVEL", "warn"},           {"TINYRAG_LOG_FORMAT", "text"},
          {"TINYRAG_METRICS_LISTEN", "[::1]:9000"}, {"TINYRAG_WEBHOOK_SECRET", "from-env"},
          {"TINYRAG_THREADS", "3"},                {"TINYRAG_ANSWER_MODE", "extractive"},
          {"TINYRAG_DEFAULT_COLLECTION", "env-kb"}, {"TINYRAG_WEBHOOK_URL", "http://h/"}};
  auto c = LoadText("listen: 127.0.0.1:1\ndata_dir: /file\nencoder: /f/e\ndecoder: /f/d\nthreads: 1\n"
                    "log: {level: error, format: json}\nwebhook: {url: http://x/, secret: file}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:7000");
  EXPECT_EQ(c->data_dir, "/env/data");
  EXPECT_EQ(c->encoder, "/env/enc");
  EXPECT_EQ(c->decoder, "/env/dec");
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->log.format, "text");
  EXPECT_EQ(c->metrics.listen, "[::1]:9000");
  EXPECT_EQ(c->webhook.secret, "from-env");
  EXPECT_EQ(c->webhook.url, "http://h/");
  EXPECT_EQ(c->threads, 3);
  EXPECT_EQ(c->answer_mode, ConfiguredAnswerMode::kExtractive);
  EXPECT_EQ(c->default_collection, "env-kb");
}

TEST_F(ConfigTest, EmptyOrBadEnvironmentValues) {
  env_["TINYRAG_LISTEN"] = "";  // empty counts as unset
  auto c = LoadText("listen: 127.0.0.1:1\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:1");
  env_["TINYRAG_THREADS"] = "two";
  ExpectError(LoadText("").status(), absl::StatusCode::kInvalidArgument, {"TINYRAG_THREADS", "'two'"});
  env_.erase("TINYRAG_THREADS");
  env_["TINYRAG_ANSWER_MODE"] = "x";
  ExpectError(LoadText("").status(), absl::StatusCode::kInvalidArgument, {"TINYRAG_ANSWER_MODE"});
}

TEST_F(ConfigTest, WebhookSecretFromANamedVariable) {
  env_["HOOK_SECRET"] = "named";
  auto c = LoadText("webhook: {url: https://h/, secret_env: HOOK_SECRET}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->webhook.secret, "named");
  env_["TINYRAG_WEBHOOK_SECRET"] = "direct";
  c = LoadText("webhook: {url: https://h/, secret_env: HOOK_SECRET}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->webhook.secret, "direct");
  env_.clear();
  ExpectError(LoadText("webhook: {url: https://h/, secret_env: HOOK_SECRET}\n").status(),
              absl::StatusCode::kInvalidArgument, {"webhook.secret_env", "HOOK_SECRET", "not set"});
  ExpectError(LoadText("webhook: {secret: a, secret_env: B}\n").status(), absl::StatusCode::kInvalidArgument,
              {"not both"});
}

TEST_F(ConfigTest, KeysNewSnippetLoadsBack) {
  const ApiKeyConfig key{"ops team", HashApiKey("k"), {"*", "docs"}, true};
  std::string yaml = "auth:\n  api_keys:\n";
  std::string snippet = ApiKeyYamlSnippet(key);
  for (size_t pos = 0; pos < snippet.size();) {  // indent the list under api_keys
    const size_t nl = snippet.find('\n', pos);
    yaml += "    " + snippet.substr(pos, nl - pos + 1);
    pos = nl + 1;
  }
  auto c = LoadText(yaml);
  ASSERT_TRUE(c.ok()) << c.status() << "\n" << yaml;
  ASSERT_EQ(c->auth.api_keys.size(), 1u);
  EXPECT_EQ(c->auth.api_keys[0].name, key.name);
  EXPECT_EQ(c->auth.api_keys[0].sha256, key.sha256);
  EXPECT_EQ(c->auth.api_keys[0].collections, key.collections);
  EXPECT_TRUE(c->auth.api_keys[0].admin);
}

TEST_F(ConfigTest, TheExampleFileLoadsAndValidates) {
  const fs::path example = kRepo / "data/tinyrag.example.yaml";
  ASSERT_TRUE(fs::exists(example)) << example;
  env_["TINYRAG_WEBHOOK_SECRET"] = "example-secret";
  auto c = LoadServerConfig(example.string(), Env());
  ASSERT_TRUE(c.ok()) << c.status();
  // Point the paths at files that exist here; everything else as written.
  ServerConfig v = *c;
  v.data_dir = dir_.string();
  v.encoder = Write("enc.gguf", "x");
  v.decoder = v.decoder.empty() ? "" : Write("dec.gguf", "x");
  v.confidence_file.clear();
  v.tls = {};
  EXPECT_TRUE(ValidateServerConfig(v).ok()) << ValidateServerConfig(v);
}

TEST_F(ConfigTest, ValidateAcceptsAMinimalConfig) {
  EXPECT_TRUE(ValidateServerConfig(Valid()).ok()) << ValidateServerConfig(Valid());
}

TEST_F(ConfigTest, ValidateRequiresPaths) {
  ServerConfig c = Valid();
  c.data_dir.clear();
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"data_dir", "required"});
  c = Valid();
  c.encoder.clear();
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"encoder", "required"});
  c = Valid();
  c.decoder = (dir_ / "missing.gguf").string();
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"decoder", "missing.gguf", "does not exist"});
  c = Valid();
  c.data_dir = c.encoder;
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"data_dir", "not a directory"});
}

TEST_F(ConfigTest, ValidateChecksRanges) {
  struct Case {
    std::function<void(ServerConfig&)> edit;
    std::string key;
  };
  const std::vector<Case> cases = {
      {[](ServerConfig& c) { c.threads = -1; }, "threads"},
      {[](ServerConfig& c) { c.default_collection.clear(); }, "default_collection"},
      {[](ServerConfig& c) { c.generation.context_length = 0; }, "generation.context_length"},
      {[](ServerConfig& c) { c.generation.max_batch = 0; }, "generation.max_batch"},
      {[](ServerConfig& c) { c.generation.queue_capacity = -1; }, "generation.queue_capacity"},
      {[](ServerConfig& c) { c.generation.prefill_chunk = 8; }, "generation.prefill_chunk"},
      {[](ServerConfig& c) { c.generation.default_timeout_ms = 0; }, "generation.default_timeout_ms"},
      {[](ServerConfig& c) { c.answer.default_top_k = 0; }, "answer.top_k"},
      {[](ServerConfig& c) { c.answer.default_top_k = c.answer.max_top_k + 1; }, "answer.top_k"},
      {[](ServerConfig& c) { c.answer.max_max_tokens = c.generation.context_length; }, "answer.max_max_tokens"},
      {[](ServerConfig& c) { c.answer.default_max_tokens = c.answer.max_max_tokens + 1; }, "answer.max_tokens"},
      {[](ServerConfig& c) { c.answer.default_temperature = 2.5; }, "answer.temperature"},
      {[](ServerConfig& c) { c.answer.confidence_threshold = std::nan(""); }, "answer.confidence_threshold"},
      {[](ServerConfig& c) { c.answer.max_question_bytes = 0; }, "answer.max_question_bytes"},
      {[](ServerConfig& c) { c.retrieval.candidates = 0; }, "retrieval.candidates"},
      {[](ServerConfig& c) { c.retrieval.rrf_k = -1; }, "retrieval.rrf_k"},
      {[](ServerConfig& c) { c.retrieval.dense_weight = c.retrieval.lexical_weight = 0; }, "retrieval.dense_weight"},
      {[](ServerConfig& c) { c.vector_index.factory.clear(); }, "retrieval.index_factory"},
      {[](ServerConfig& c) { c.chunker.target_tokens = 4; }, "retrieval.chunk_tokens"},
      {[](ServerConfig& c) { c.chunker.overlap_tokens = c.chunker.target_tokens; }, "retrieval.chunk_overlap"},
      {[](ServerConfig& c) { c.log.level = "verbose"; }, "log.level"},
      {[](ServerConfig& c) { c.log.format = "xml"; }, "log.format"},
      {[](ServerConfig& c) { c.listen = "nohost"; }, "listen"},
      {[](ServerConfig& c) { c.listen = "127.0.0.1:70000"; }, "listen"},
      {[](ServerConfig& c) { c.metrics.listen = "9464"; }, "metrics.listen"},
      {[](ServerConfig& c) { c.metrics.listen = "unix:/tmp/m"; }, "metrics.listen"},
  };
  for (const auto& tc : cases) {
    ServerConfig c = Valid();
    tc.edit(c);
    ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {tc.key});
  }
}

TEST_F(ConfigTest, ValidateTlsPairs) {
  ServerConfig c = Valid();
  c.tls.cert_file = Write("cert.pem", "c");
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"tls", "both or neither"});
  c.tls.key_file = Write("key.pem", "k");
  EXPECT_TRUE(ValidateServerConfig(c).ok()) << ValidateServerConfig(c);
  c.tls.client_ca_file = Write("ca.pem", "a");
  EXPECT_TRUE(ValidateServerConfig(c).ok()) << ValidateServerConfig(c);
  c.tls.cert_file.clear();
  c.tls.key_file.clear();
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"tls.client_ca_file"});
  c = Valid();
  c.tls.cert_file = (dir_ / "absent.pem").string();
  c.tls.key_file = Write("key.pem", "k");
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"tls.cert_file", "does not exist"});
}

TEST_F(ConfigTest, ValidateWebhookNeedsASecretAndHttpUrl) {
  ServerConfig c = Valid();
  c.webhook.url = "https://desk/hook";
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"webhook.secret"});
  c.webhook.secret = "s";
  EXPECT_TRUE(ValidateServerConfig(c).ok()) << ValidateServerConfig(c);
  c.webhook.url = "ftp://desk/hook";
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"webhook.url"});
  c.webhook.url = "http://desk/hook";
  c.webhook.jitter = 1;
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"webhook.jitter"});
}

TEST_F(ConfigTest, ValidateWithoutKeysOnlyOnLoopbackUnlessInsecure) {
  ServerConfig c = Valid();
  for (const char* local : {"127.0.0.1:50051", "127.8.9.1:1", "localhost:5", "[::1]:5", "unix:/tmp/s.sock"}) {
    c.listen = local;
    EXPECT_TRUE(ValidateServerConfig(c).ok()) << local << ": " << ValidateServerConfig(c);
  }
  for (const char* open : {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:1", "example.com:443", "[::ffff:10.0.0.1]:1"}) {
    c.listen = open;
    ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"loopback", "insecure_no_auth"});
  }
  c.auth.insecure_no_auth = true;
  EXPECT_TRUE(ValidateServerConfig(c).ok()) << ValidateServerConfig(c);
  c.auth.insecure_no_auth = false;
  c.auth.api_keys = {{"k", HashApiKey("key"), {"*"}, false}};
  EXPECT_TRUE(ValidateServerConfig(c).ok()) << ValidateServerConfig(c);
  c.auth.api_keys[0].sha256 = "abc";
  ExpectError(ValidateServerConfig(c), absl::StatusCode::kInvalidArgument, {"auth.api_keys", "64 hex"});
}

TEST(ProcessEnvironment, ReadsTheRealEnvironment) {
  ASSERT_EQ(setenv("TINYRAG_CONFIG_TEST_VAR", "v1", 1), 0);
  unsetenv("TINYRAG_CONFIG_TEST_UNSET");
  const GetenvFn env = ProcessEnvironment();
  EXPECT_EQ(env("TINYRAG_CONFIG_TEST_VAR"), std::optional<std::string>("v1"));
  EXPECT_EQ(env("TINYRAG_CONFIG_TEST_UNSET"), std::nullopt);
  unsetenv("TINYRAG_CONFIG_TEST_VAR");
}

TEST(ListenAddress, Parses) {
  auto a = ParseListenAddress("127.0.0.1:50051");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 50051);
  a = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 0);
  a = ParseListenAddress("unix:/run/t.sock");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->unix_socket);
  for (const char* bad : {"", ":80", "host", "host:", "host:x", "::1:80", "[::1]80", "[::1", "h:123456", "unix:"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
  EXPECT_TRUE(IsLoopbackAddress("[::ffff:127.0.0.1]:1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:1"));
}

}  // namespace
}  // namespace tinyrag
