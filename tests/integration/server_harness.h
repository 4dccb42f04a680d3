// A real tinyrag server in the test process, on a loopback port, with tiny
// random-weight models written for the test (real architectures and
// tokenizers, shrunk), and a client for it. The generated text is
// meaningless; tests check passages, citations, statuses and shapes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "model/mkmodel.h"
#include "model/model_presets.h"
#include "service/config.h"
#include "service/server/server.h"
#include "tinyrag/v1/escalation.grpc.pb.h"
#include "tinyrag/v1/rag.grpc.pb.h"

namespace tinyrag::testing {

namespace fs = std::filesystem;

// API keys of the test servers.
inline constexpr char kAdminKey[] = "tr_test_admin_key";
inline constexpr char kReaderKey[] = "tr_test_reader_key";  // collection "default" only

inline std::string WriteTinyModel(const std::string& preset_name, const fs::path& path, bool decoder) {
  ModelPreset p = *FindPreset(preset_name);
  p.n_embd = 64;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = decoder ? 2 : 4;
  p.head_dim = 16;
  p.n_ff = decoder ? 96 : 128;
  p.n_ctx = decoder ? 2048 : 128;
  auto plan = PlanModel(p, MkmodelType::kQ8_0, 11);
  EXPECT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(WriteModel(*plan, path.string(), 2).ok());
  return path.string();
}

// Models shared by every test of the process (written once).
struct TinyModels {
  std::string encoder;
  std::string decoder;
  static const TinyModels& Get() {
    static const TinyModels* models = [] {
      const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_models_" + std::to_string(::getpid()));
      fs::create_directories(dir);
      auto* m = new TinyModels;
      m->encoder = WriteTinyModel("minilm-l6", dir / "encoder.gguf", false);
      m->decoder = WriteTinyModel("smollm2-135m", dir / "decoder.gguf", true);
      return m;
    }();
    return *models;
  }
};

inline ServerConfig TestConfig(const fs::path& data_dir) {
  ServerConfig c;
  c.listen = "127.0.0.1:0";
  c.data_dir = data_dir.string();
  c.encoder = TinyModels::Get().encoder;
  c.decoder = TinyModels::Get().decoder;
  c.threads = 2;
  c.generation.context_length = 2048;
  c.generation.max_batch = 4;
  c.generation.queue_capacity = 32;
  c.answer.default_max_tokens = 16;
  c.auth.api_keys = {{.name = "admin", .sha256 = HashApiKey(kAdminKey), .collections = {"*"}, .admin = true},
                     {.name = "reader", .sha256 = HashApiKey(kReaderKey), .collections = {"default"}, .admin = false}};
  return c;
}

// A context carrying `key` (none when empty) and a deadline.
inline std::unique_ptr<grpc::ClientContext> Context(const std::string& key, double seconds = 60) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return ctx;
}

struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::RagService::Stub> rag;
  std::unique_ptr<v1::EscalationService::Stub> escalations;
  explicit Client(const std::string& address)
      : channel(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        rag(v1::RagService::NewStub(channel)),
        escalations(v1::EscalationService::NewStub(channel)) {}
};

// Streams `docs` ({external_id, title, text}) into `collection`.
inline grpc::Status IngestDocs(Client& client, const std::string& key, const std::string& collection,
                               const std::vector<std::vector<std::string>>& docs, v1::IngestResponse* response) {
  auto ctx = Context(key);
  auto writer = client.rag->Ingest(ctx.get(), response);
  for (const auto& d : docs) {
    v1::IngestRequest m;
    m.set_collection(collection);
    m.set_external_id(d[0]);
    m.set_title(d[1]);
    m.set_text(d[2]);
    m.set_source("test://" + d[0]);
    if (!writer->Write(m)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace tinyrag::testing
