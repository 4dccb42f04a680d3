// The encoder loaded from GGUF and from a sentence-transformers folder made
// from the same random weights gives the same embeddings; batching, threads,
// truncation, normalization and load errors.
#include "embed/encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "model/gguf.h"
#include "model/mkmodel.h"
#include "model/model_presets.h"
#include "model/quantize.h"
#include "model/safetensors.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ../shared beside the repository root (this file is tests/unit/encoder_test.cpp).
const fs::path kSharedMinilm =
    fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" / "fixtures" / "minilm";

// all-MiniLM-L6-v2's preset shrunk: width 64, 2 layers, 4 heads, FFN 128,
// 64 positions; the real vocabulary size and tokenizer layout.
ModelPreset TinyPreset() {
  ModelPreset p = *FindPreset("minilm-l6");
  p.n_embd = 64;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = 4;
  p.head_dim = 16;
  p.n_ff = 128;
  p.n_ctx = 64;
  return p;
}

// The HF name of each llama.cpp tensor (written out here rather than taken
// from embed/bert_arch.h so that a wrong table there fails this test).
std::string HfName(const std::string& gguf) {
  static const std::vector<std::pair<std::string, std::string>> kGlobal = {
      {"token_embd.weight", "embeddings.word_embeddings.weight"},
      {"token_types.weight", "embeddings.token_type_embeddings.weight"},
      {"position_embd.weight", "embeddings.position_embeddings.weight"},
      {"token_embd_norm.weight", "embeddings.LayerNorm.weight"},
      {"token_embd_norm.bias", "embeddings.LayerNorm.bias"}};
  for (const auto& [g, h] : kGlobal) {
    if (gguf == g) return h;
  }
  static const std::vector<std::pair<std::string, std::string>> kLayer = {
      {"attn_q", "attention.self.query"},       {"attn_k", "attention.self.key"},
      {"attn_v", "attention.self.value"},       {"attn_output_norm", "attention.output.LayerNorm"},
      {"attn_output", "attention.output.dense"}, {"ffn_up", "intermediate.dense"},
      {"ffn_down", "output.dense"},             {"layer_output_norm", "output.LayerNorm"}};
  // blk.N.NAME.weight|bias
  const size_t dot1 = gguf.find('.', 4), dot2 = gguf.rfind('.');
  const std::string layer = gguf.substr(4, dot1 - 4), name = gguf.substr(dot1 + 1, dot2 - dot1 - 1);
  for (const auto& [g, h] : kLayer) {
    if (name == g) return "encoder.layer." + layer + "." + h + gguf.substr(dot2);
  }
  return "unknown." + gguf;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class EncoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("tinyrag_encoder_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "hf" / "1_Pooling");
    gguf_path_ = (dir_ / "tiny.gguf").string();
    auto plan = PlanModel(TinyPreset(), MkmodelType::kF32, 7);
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_TRUE(WriteModel(*plan, gguf_path_, 2).ok());
    hf_dir_ = dir_ / "hf";
    WriteHfFolder(hf_dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // The GGUF's weights and vocabulary as a sentence-transformers folder.
  static void WriteHfFolder(const fs::path& out) {
    auto gguf = GgufFile::Open(gguf_path_);
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    SafetensorsWriter st;
    for (const GgufTensorInfo& t : (*gguf)->tensors()) {
      auto values = Dequantize(t.type, (*gguf)->TensorData(t), t.num_elements());
      ASSERT_TRUE(values.ok());
      std::vector<int64_t> shape(t.shape.rbegin(), t.shape.rend());  // PyTorch order
      ASSERT_TRUE(st.AddF32(HfName(t.name), shape, *values).ok()) << t.name;
    }
    ASSERT_TRUE(st.WriteFile((out / "model.safetensors").string()).ok());

    // vocab.txt in the HF convention: "▁the" -> "the", "h" -> "##h".
    auto tokens = (*gguf)->GetArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok());
    std::string vocab;
    for (const std::string& tok : (*tokens)->strings) {
      if (tok.size() >= 2 && tok.front() == '[' && tok.back() == ']') {
        vocab += tok;
      } else if (tok.rfind("\xE2\x96\x81", 0) == 0) {
        vocab += tok.substr(3);
      } else {
        vocab += "##" + tok;
      }
      vocab += "\n";
    }
    WriteText(out / "vocab.txt", vocab);

    const ModelPreset p = TinyPreset();
    nlohmann::json config;
    if (fs::exists(kSharedMinilm / "config.json")) {
      std::ifstream in(kSharedMinilm / "config.json");
      config = nlohmann::json::parse(in);
    } else {  // the fields of all-MiniLM-L6-v2's config.json
      config = {{"architectures", {"BertModel"}}, {"model_type", "bert"}, {"hidden_act", "gelu"},
                {"layer_norm_eps", 1e-12},         {"type_vocab_size", 2},  {"position_embedding_type", "absolute"},
                {"vocab_size", 30522}};
    }
    config["hidden_size"] = p.n_embd;
    config["num_hidden_layers"] = p.n_layer;
    config["num_attention_heads"] = p.n_head;
    config["intermediate_size"] = p.n_ff;
    config["max_position_embeddings"] = p.n_ctx;
    WriteText(out / "config.json", config.dump(2));
    WriteText(out / "tokenizer_config.json", R"({"do_lower_case": true, "model_max_length": 512})");
    WriteText(out / "sentence_bert_config.json", R"({"max_seq_length": 48, "do_lower_case": false})");
    WriteText(out / "modules.json",
              R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])");
    WriteText(out / "1_Pooling" / "config.json",
              R"({"word_embedding_dimension": 64, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true})");
  }

  // A copy of the HF folder to break in one test.
  static fs::path CopyHf(const std::string& name) {
    const fs::path copy = dir_ / name;
    fs::remove_all(copy);
    fs::copy(hf_dir_, copy, fs::copy_options::recursive);
    return copy;
  }

  static std::vector<std::string> Texts() {
    return {"Hello world",
            "How do I reset my password?",
            "The tar program provides the ability to create archives from the filesystem.",
            "a",
            "Embeddings of many lengths go through one batch, sorted and packed."};
  }

  static inline fs::path dir_;
  static inline std::string gguf_path_;
  static inline fs::path hf_dir_;
};

TEST_F(EncoderTest, GgufAndHfFolderGiveIdenticalEmbeddings) {
  auto a = Encoder::Load(gguf_path_, {.threads = 2});
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Encoder::Load(hf_dir_.string(), {.threads = 2});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->info().format, "gguf");
  EXPECT_EQ((*b)->info().format, "safetensors");
  EXPECT_EQ((*a)->dim(), 64);
  EXPECT_EQ((*b)->dim(), 64);
  EXPECT_EQ((*b)->info().pooling, "mean");
  EXPECT_EQ((*a)->info().max_seq_len, 64);  // GGUF: context length
  EXPECT_EQ((*b)->info().max_seq_len, 48);  // sentence_bert_config.json
  const auto texts = Texts();
  for (const std::string& t : texts) EXPECT_EQ((*a)->Tokenize(t), (*b)->Tokenize(t)) << t;
  auto ea = (*a)->Embed(texts, {.normalize = false});
  auto eb = (*b)->Embed(texts, {.normalize = false});
  ASSERT_TRUE(ea.ok() && eb.ok());
  ASSERT_EQ(ea->values.size(), texts.size() * 64);
  EXPECT_EQ(ea->values, eb->values);
  EXPECT_EQ(ea->n_tokens, eb->n_tokens);
}

TEST_F(EncoderTest, NormalizedBatchedAndThreadedAgree) {
  auto enc = Encoder::Load(gguf_path_, {.threads = 2});
  ASSERT_TRUE(enc.ok()) << enc.status();
  const auto texts = Texts();
  auto raw = (*enc)->Embed(texts, {.normalize = false, .batch_size = 32});
  auto one = (*enc)->Embed(texts, {.normalize = true, .batch_size = 1});
  ASSERT_TRUE(raw.ok() && one.ok());
  for (int64_t i = 0; i < one->n; ++i) {
    double n2 = 0, raw2 = 0;
    for (float v : one->row(i)) n2 += double(v) * v;
    for (float v : raw->row(i)) raw2 += double(v) * v;
    EXPECT_NEAR(n2, 1.0, 1e-5);
    EXPECT_GT(raw2, 1.5);  // the pooled vector itself is not unit length
    for (int64_t j = 0; j < one->dim; ++j) {
      EXPECT_NEAR(one->row(i)[j], raw->row(i)[j] / std::sqrt(raw2), 2e-5) << i << "," << j;
    }
  }
  // Concurrent callers get what a single caller gets.
  std::vector<std::thread> threads;
  std::vector<std::vector<float>> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto e = (*enc)->Embed(texts, {.normalize = false, .batch_size = 2});
      if (e.ok()) results[t] = e->values;
    });
  }
  for (auto& th : threads) th.join();
  auto ref = (*enc)->Embed(texts, {.normalize = false, .batch_size = 2});
  ASSERT_TRUE(ref.ok());
  for (const auto& r : results) EXPECT_EQ(r, ref->values);
}

TEST_F(EncoderTest, TruncationIsReported) {
  auto enc = Encoder::Load(hf_dir_.string(), {.threads = 1});
  ASSERT_TRUE(enc.ok()) << enc.status();
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  const std::vector<std::string> texts = {long_text, "short"};
  auto e = (*enc)->Embed(texts);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->truncated, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(e->n_tokens[0], 48);
  bool cut = false;
  const std::vector<TokenId> ids = (*enc)->Tokenize(long_text, false, &cut);
  EXPECT_TRUE(cut);
  ASSERT_EQ(ids.size(), 48u);
  EXPECT_EQ(ids.back(), (*enc)->Tokenize("").back());  // still ends with [SEP]
  EXPECT_EQ((*enc)->Embed(std::vector<std::string>{})->n, 0);
  const std::vector<std::vector<TokenId>> bad = {{101, 999999, 102}};
  EXPECT_FALSE((*enc)->EmbedIds(bad).ok());
}

TEST_F(EncoderTest, MissingFilesAreNamed) {
  auto missing = Encoder::Load((dir_ / "nope.gguf").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  const fs::path no_config = CopyHf("no_config");
  fs::remove(no_config / "config.json");
  auto a = Encoder::Load(no_config.string());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(a.status().message(), HasSubstr("config.json"));

  const fs::path no_weights = CopyHf("no_weights");
  fs::remove(no_weights / "model.safetensors");
  auto b = Encoder::Load(no_weights.string());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(b.status().message(), HasSubstr("model.safetensors"));

  const fs::path no_vocab = CopyHf("no_vocab");
  fs::remove(no_vocab / "vocab.txt");
  auto c = Encoder::Load(no_vocab.string());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("vocab.txt"));
}

TEST_F(EncoderTest, UnknownArchitectureAndBadConfig) {
  const fs::path roberta = CopyHf("roberta");
  WriteText(roberta / "config.json", R"({"model_type": "xlm-roberta", "hidden_size": 64})");
  auto a = Encoder::Load(roberta.string());
  EXPECT_THAT(a.status().message(), HasSubstr("model_type \"xlm-roberta\" is not a supported encoder"));

  const fs::path pooling = CopyHf("max_pooling");
  WriteText(pooling / "1_Pooling" / "config.json", R"({"pooling_mode_max_tokens": true})");
  auto b = Encoder::Load(pooling.string());
  EXPECT_THAT(b.status().message(), HasSubstr("pooling_mode_max_tokens is not supported"));

  // A decoder GGUF is refused by architecture.
  ModelPreset p = *FindPreset("qwen2.5-0.5b");
  p.n_embd = 64, p.n_layer = 1, p.n_head = 4, p.n_head_kv = 2, p.head_dim = 16, p.n_ff = 128;
  auto plan = PlanModel(p, MkmodelType::kF32, 1);
  ASSERT_TRUE(plan.ok());
  const std::string qwen = (dir_ / "qwen.gguf").string();
  ASSERT_TRUE(WriteModel(*plan, qwen, 1).ok());
  auto c = Encoder::Load(qwen);
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("qwen.gguf"));
}

TEST_F(EncoderTest, WrongShapesAndCorruptSafetensors) {
  // Every tensor of the original but one query weight stored transposed-wrong.
  const fs::path shapes = CopyHf("wrong_shape");
  {
    auto src = SafetensorsFile::Open((hf_dir_ / "model.safetensors").string());
    ASSERT_TRUE(src.ok());
    SafetensorsWriter w;
    for (const SafetensorsTensor& t : (*src)->tensors()) {
      std::vector<int64_t> shape = t.shape;
      std::vector<float> values(static_cast<size_t>(t.num_elements()));
      std::memcpy(values.data(), (*src)->Data(t).data(), values.size() * 4);
      if (t.name == "encoder.layer.1.intermediate.dense.weight") shape = {shape[1], shape[0]};
      ASSERT_TRUE(w.AddF32(t.name, shape, values).ok());
    }
    ASSERT_TRUE(w.WriteFile((shapes / "model.safetensors").string()).ok());
  }
  auto a = Encoder::Load(shapes.string());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("encoder.layer.1.intermediate.dense.weight has shape"));

  const fs::path corrupt = CopyHf("corrupt");
  fs::resize_file(corrupt / "model.safetensors", fs::file_size(corrupt / "model.safetensors") - 100);
  auto b = Encoder::Load(corrupt.string());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), HasSubstr("model.safetensors"));
  EXPECT_THAT(b.status().message(), HasSubstr("data section"));

  const fs::path missing_tensor = CopyHf("missing_tensor");
  {
    auto src = SafetensorsFile::Open((hf_dir_ / "model.safetensors").string());
    ASSERT_TRUE(src.ok());
    SafetensorsWriter w;
    for (const SafetensorsTensor& t : (*src)->tensors()) {
      if (t.name == "embeddings.LayerNorm.bias") continue;
      std::vector<float> values(static_cast<size_t>(t.num_elements()));
      std::memcpy(values.data(), (*src)->Data(t).data(), values.size() * 4);
      ASSERT_TRUE(w.AddF32(t.name, t.shape, values).ok());
    }
    ASSERT_TRUE(w.WriteFile((missing_tensor / "model.safetensors").string()).ok());
  }
  auto c = Encoder::Load(missing_tensor.string());
  EXPECT_THAT(c.status().message(), HasSubstr("embeddings.LayerNorm.bias not found"));
}

}  // namespace
}  // namespace tinyrag
