// The model generator: plans of every preset (shapes, metadata, llama.cpp's
// type mixes), synthetic vocabularies, and real files written and read back.
#include "model/mkmodel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_split.h"
#include "model/gguf.h"
#include "model/model_presets.h"
#include "model/quantize.h"

namespace tinyrag {
namespace {

const GgufValue* FindKey(const ModelPlan& plan, std::string_view key) {
  for (const GgufKeyValue& kv : plan.metadata) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

int64_t IntKey(const ModelPlan& plan, std::string_view key) {
  const GgufValue* v = FindKey(plan, key);
  if (v == nullptr) {
    ADD_FAILURE() << "missing key " << key;
    return -1;
  }
  if (const auto* u = std::get_if<uint64_t>(&v->data)) return static_cast<int64_t>(*u);
  if (const auto* i = std::get_if<int64_t>(&v->data)) return *i;
  ADD_FAILURE() << key << " is not an integer";
  return -1;
}

std::string StringKey(const ModelPlan& plan, std::string_view key) {
  const GgufValue* v = FindKey(plan, key);
  if (v == nullptr || !std::holds_alternative<std::string>(v->data)) {
    ADD_FAILURE() << "missing string key " << key;
    return "";
  }
  return std::get<std::string>(v->data);
}

const GgufArray& ArrayKey(const ModelPlan& plan, std::string_view key) {
  static const GgufArray kEmpty;
  const GgufValue* v = FindKey(plan, key);
  if (v == nullptr || !std::holds_alternative<GgufArray>(v->data)) {
    ADD_FAILURE() << "missing array key " << key;
    return kEmpty;
  }
  return std::get<GgufArray>(v->data);
}

const PlannedTensor* FindTensor(const ModelPlan& plan, std::string_view name) {
  for (const PlannedTensor& t : plan.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

ModelPlan Plan(std::string_view preset, MkmodelType type, uint64_t seed = 1) {
  const ModelPreset* p = FindPreset(preset);
  EXPECT_NE(p, nullptr) << preset;
  absl::StatusOr<ModelPlan> plan = PlanModel(*p, type, seed);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *std::move(plan);
}

void ExpectTensor(const ModelPlan& plan, std::string_view name, std::vector<int64_t> shape,
                  GgmlType type) {
  const PlannedTensor* t = FindTensor(plan, name);
  ASSERT_NE(t, nullptr) << name;
  EXPECT_EQ(t->shape, shape) << name;
  EXPECT_EQ(TypeName(t->type), TypeName(type)) << name;
}

struct Expected {
  std::string_view preset, arch;
  int64_t vocab, embd, layers, heads, kv_heads, head_dim, ff, ctx;
  size_t tensors;
};

// Tensor counts: decoders have 9 per layer (+3 QKV biases for qwen2, +2 q/k
// norms for qwen3) plus token_embd, output_norm, [output], [rope_freqs];
// BERT has 16 per layer plus 5 embedding tensors.
constexpr Expected kExpected[] = {
    {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768, 24 * 12 + 2},
    {"smollm2-135m", "llama", 49152, 576, 30, 9, 3, 64, 1536, 8192, 30 * 9 + 2},
    {"smollm2-360m", "llama", 49152, 960, 32, 15, 5, 64, 2560, 8192, 32 * 9 + 2},
    {"tinyllama-1.1b", "llama", 32000, 2048, 22, 32, 4, 64, 5632, 2048, 22 * 9 + 3},
    {"llama3.2-1b", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 131072, 16 * 9 + 3},
    {"qwen3-0.6b", "qwen3", 151936, 1024, 28, 16, 8, 128, 3072, 40960, 28 * 11 + 2},
    {"minilm-l6", "bert", 30522, 384, 6, 12, 12, 32, 1536, 512, 6 * 16 + 5},
};

TEST(MkmodelTest, EveryPresetHasTheRealShapesAndKeys) {
  ASSERT_EQ(AllPresets().size(), std::size(kExpected));
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(std::string(e.preset));
    const ModelPlan plan = Plan(e.preset, MkmodelType::kF32);
    const std::string a(e.arch);
    EXPECT_EQ(StringKey(plan, "general.architecture"), a);
    EXPECT_EQ(IntKey(plan, a + ".block_count"), e.layers);
    EXPECT_EQ(IntKey(plan, a + ".embedding_length"), e.embd);
    EXPECT_EQ(IntKey(plan, a + ".feed_forward_length"), e.ff);
    EXPECT_EQ(IntKey(plan, a + ".attention.head_count"), e.heads);
    EXPECT_EQ(IntKey(plan, a + ".context_length"), e.ctx);
    EXPECT_EQ(IntKey(plan, "general.file_type"), 0);
    EXPECT_EQ(IntKey(plan, "general.quantization_version"), 2);
    EXPECT_EQ(ArrayKey(plan, "tokenizer.ggml.tokens").strings.size(), static_cast<size_t>(e.vocab));
    EXPECT_EQ(ArrayKey(plan, "tokenizer.ggml.token_type").ints.size(), static_cast<size_t>(e.vocab));
    EXPECT_EQ(plan.tensors.size(), e.tensors);
    ExpectTensor(plan, "token_embd.weight", {e.embd, e.vocab}, GgmlType::kF32);
    const int64_t q = e.heads * e.head_dim, kv = e.kv_heads * e.head_dim;
    for (int64_t l : {int64_t{0}, e.layers - 1}) {
      const std::string b = "blk." + std::to_string(l) + ".";
      ExpectTensor(plan, b + "attn_q.weight", {e.embd, q}, GgmlType::kF32);
      ExpectTensor(plan, b + "attn_k.weight", {e.embd, kv}, GgmlType::kF32);
      ExpectTensor(plan, b + "attn_v.weight", {e.embd, kv}, GgmlType::kF32);
      ExpectTensor(plan, b + "attn_output.weight", {q, e.embd}, GgmlType::kF32);
      ExpectTensor(plan, b + "ffn_up.weight", {e.embd, e.ff}, GgmlType::kF32);
      ExpectTensor(plan, b + "ffn_down.weight", {e.ff, e.embd}, GgmlType::kF32);
      if (a == "bert") {
        ExpectTensor(plan, b + "attn_q.bias", {e.embd}, GgmlType::kF32);
        ExpectTensor(plan, b + "ffn_up.bias", {e.ff}, GgmlType::kF32);
        ExpectTensor(plan, b + "attn_output_norm.weight", {e.embd}, GgmlType::kF32);
        ExpectTensor(plan, b + "layer_output_norm.bias", {e.embd}, GgmlType::kF32);
      } else {
        EXPECT_EQ(IntKey(plan, a + ".attention.head_count_kv"), e.kv_heads);
        ExpectTensor(plan, b + "attn_norm.weight", {e.embd}, GgmlType::kF32);
        ExpectTensor(plan, b + "ffn_gate.weight", {e.embd, e.ff}, GgmlType::kF32);
        ExpectTensor(plan, b + "ffn_norm.weight", {e.embd}, GgmlType::kF32);
      }
    }
    // Names are unique and in llama.cpp's order: non-block tensors, then by layer.
    std::set<std::string> names;
    int64_t last_layer = -1;
    for (const PlannedTensor& t : plan.tensors) {
      EXPECT_TRUE(names.insert(t.name).second) << t.name;
      const int64_t layer = t.name.starts_with("blk.") ? std::stoll(t.name.substr(4)) : -1;
      EXPECT_GE(layer, last_layer) << t.name;
      last_layer = layer;
    }
  }
}

TEST(MkmodelTest, ArchitectureSpecifics) {
  const ModelPlan qwen2 = Plan("qwen2.5-0.5b", MkmodelType::kF32);
  ExpectTensor(qwen2, "blk.3.attn_q.bias", {896}, GgmlType::kF32);
  ExpectTensor(qwen2, "blk.3.attn_k.bias", {128}, GgmlType::kF32);
  EXPECT_EQ(FindTensor(qwen2, "output.weight"), nullptr);  // tied
  EXPECT_EQ(StringKey(qwen2, "tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(FindKey(qwen2, "qwen2.attention.key_length"), nullptr);

  const ModelPlan qwen3 = Plan("qwen3-0.6b", MkmodelType::kF32);
  ExpectTensor(qwen3, "blk.0.attn_q.weight", {1024, 2048}, GgmlType::kF32);
  ExpectTensor(qwen3, "blk.0.attn_output.weight", {2048, 1024}, GgmlType::kF32);
  ExpectTensor(qwen3, "blk.0.attn_q_norm.weight", {128}, GgmlType::kF32);
  ExpectTensor(qwen3, "blk.0.attn_k_norm.weight", {128}, GgmlType::kF32);
  EXPECT_EQ(FindTensor(qwen3, "blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ(IntKey(qwen3, "qwen3.attention.key_length"), 128);
  EXPECT_EQ(IntKey(qwen3, "qwen3.attention.value_length"), 128);

  const ModelPlan llama3 = Plan("llama3.2-1b", MkmodelType::kF32);
  const PlannedTensor* rope = FindTensor(llama3, "rope_freqs.weight");
  ASSERT_NE(rope, nullptr);
  ASSERT_EQ(rope->shape, std::vector<int64_t>{32});
  // High frequencies are unscaled, low ones divided by the factor 32, smooth between.
  EXPECT_EQ(rope->fixed.front(), 1.0f);
  EXPECT_EQ(rope->fixed.back(), 32.0f);
  EXPECT_TRUE(std::is_sorted(rope->fixed.begin(), rope->fixed.end()));
  EXPECT_EQ(IntKey(llama3, "llama.rope.dimension_count"), 64);
  EXPECT_EQ(IntKey(llama3, "llama.attention.key_length"), 64);
  EXPECT_EQ(IntKey(llama3, "tokenizer.ggml.bos_token_id"), 128000);
  EXPECT_EQ(ArrayKey(llama3, "tokenizer.ggml.tokens").strings[128009], "<|eot_id|>");

  const ModelPlan tiny = Plan("tinyllama-1.1b", MkmodelType::kF32);
  ExpectTensor(tiny, "output.weight", {2048, 32000}, GgmlType::kF32);
  EXPECT_EQ(StringKey(tiny, "tokenizer.ggml.model"), "llama");
  const GgufArray& tiny_tokens = ArrayKey(tiny, "tokenizer.ggml.tokens");
  EXPECT_EQ(tiny_tokens.strings[0], "<unk>");
  EXPECT_EQ(tiny_tokens.strings[2], "</s>");
  EXPECT_EQ(tiny_tokens.strings[3 + 0x41], "<0x41>");
  EXPECT_EQ(ArrayKey(tiny, "tokenizer.ggml.scores").floats.size(), 32000u);
  EXPECT_NE(StringKey(tiny, "tokenizer.chat_template").find("<|assistant|>"), std::string::npos);

  const ModelPlan bert = Plan("minilm-l6", MkmodelType::kF32);
  ExpectTensor(bert, "token_types.weight", {384, 2}, GgmlType::kF32);
  ExpectTensor(bert, "position_embd.weight", {384, 512}, GgmlType::kF32);
  ExpectTensor(bert, "token_embd_norm.bias", {384}, GgmlType::kF32);
  EXPECT_EQ(IntKey(bert, "bert.pooling_type"), 1);
  EXPECT_EQ(IntKey(bert, "tokenizer.ggml.cls_token_id"), 101);
  const GgufArray& wp = ArrayKey(bert, "tokenizer.ggml.tokens");
  EXPECT_EQ(wp.strings[0], "[PAD]");
  EXPECT_EQ(wp.strings[100], "[UNK]");
  EXPECT_EQ(wp.strings[103], "[MASK]");
  EXPECT_NE(std::find(wp.strings.begin(), wp.strings.end(), "\xE2\x96\x81the"), wp.strings.end());
  for (const std::string& t : wp.strings) EXPECT_FALSE(t.starts_with("##")) << t;
}

// Every vocabulary has distinct tokens; byte-level BPE merges build every
// non-byte normal token from two earlier tokens, in rank order.
TEST(MkmodelTest, SyntheticVocabulariesAreWellFormed) {
  for (std::string_view preset : {"qwen2.5-0.5b", "smollm2-135m", "llama3.2-1b", "qwen3-0.6b",
                                  "tinyllama-1.1b", "minilm-l6"}) {
    SCOPED_TRACE(std::string(preset));
    const ModelPreset* p = FindPreset(preset);
    ASSERT_NE(p, nullptr);
    ModelPlan plan;
    plan.metadata = TokenizerMetadata(*p);
    const std::vector<std::string>& tokens = ArrayKey(plan, "tokenizer.ggml.tokens").strings;
    absl::flat_hash_map<std::string, int64_t> id;
    for (size_t i = 0; i < tokens.size(); ++i) {
      EXPECT_TRUE(id.emplace(tokens[i], i).second) << "duplicate " << tokens[i];
    }
    if (StringKey(plan, "tokenizer.ggml.model") != "gpt2") continue;
    const std::vector<std::string>& merges = ArrayKey(plan, "tokenizer.ggml.merges").strings;
    const std::vector<int64_t>& types = ArrayKey(plan, "tokenizer.ggml.token_type").ints;
    int64_t first_normal = 0;
    while (types[first_normal] != 1) ++first_normal;
    ASSERT_GT(merges.size(), 1000u);
    for (size_t r = 0; r < merges.size(); ++r) {
      const std::vector<std::string> parts = absl::StrSplit(merges[r], ' ');
      ASSERT_EQ(parts.size(), 2u) << merges[r];
      const int64_t result = first_normal + 256 + static_cast<int64_t>(r);
      ASSERT_EQ(tokens[result], parts[0] + parts[1]) << merges[r];
      ASSERT_TRUE(id.contains(parts[0]) && id[parts[0]] < result) << merges[r];
      ASSERT_TRUE(id.contains(parts[1]) && id[parts[1]] < result) << merges[r];
    }
    // English text finds multi-byte tokens: " the", " and", " of" are single tokens.
    for (const char* word : {"\xC4\xA0the", "\xC4\xA0" "and", "\xC4\xA0of", "\xC4\xA0Search"}) {
      EXPECT_TRUE(id.contains(word)) << word;
    }
  }
}

TEST(MkmodelTest, QuantizedMixesFollowLlamaCpp) {
  // Qwen2.5 0.5B Q4_K_M: rows of 896 are not a multiple of 256, so Q4_K falls
  // back to Q5_0 and Q6_K to Q8_0; ffn_down (rows of 4864 = 19 * 256) keeps
  // Q4_K/Q6_K; the tied embedding is the output: Q6_K -> Q8_0.
  const ModelPlan q = Plan("qwen2.5-0.5b", MkmodelType::kQ4_K_M);
  EXPECT_EQ(IntKey(q, "general.file_type"), 15);
  ExpectTensor(q, "token_embd.weight", {896, 151936}, GgmlType::kQ8_0);
  ExpectTensor(q, "blk.0.attn_q.weight", {896, 896}, GgmlType::kQ5_0);
  ExpectTensor(q, "blk.0.attn_v.weight", {896, 128}, GgmlType::kQ8_0);  // more bits: layer 0
  ExpectTensor(q, "blk.3.attn_v.weight", {896, 128}, GgmlType::kQ5_0);
  ExpectTensor(q, "blk.5.attn_v.weight", {896, 128}, GgmlType::kQ8_0);  // (5 - 3) % 3 == 2
  ExpectTensor(q, "blk.0.ffn_down.weight", {4864, 896}, GgmlType::kQ6_K);
  ExpectTensor(q, "blk.3.ffn_down.weight", {4864, 896}, GgmlType::kQ4_K);
  ExpectTensor(q, "blk.23.ffn_down.weight", {4864, 896}, GgmlType::kQ6_K);
  ExpectTensor(q, "blk.0.attn_q.bias", {896}, GgmlType::kF32);
  ExpectTensor(q, "output_norm.weight", {896}, GgmlType::kF32);

  const ModelPlan t = Plan("tinyllama-1.1b", MkmodelType::kQ4_K_M);
  ExpectTensor(t, "output.weight", {2048, 32000}, GgmlType::kQ6_K);
  ExpectTensor(t, "token_embd.weight", {2048, 32000}, GgmlType::kQ4_K);
  ExpectTensor(t, "blk.5.attn_q.weight", {2048, 2048}, GgmlType::kQ4_K);
  int q6_v = 0;
  for (int l = 0; l < 22; ++l) {
    q6_v += FindTensor(t, "blk." + std::to_string(l) + ".attn_v.weight")->type == GgmlType::kQ6_K;
  }
  EXPECT_EQ(q6_v, 10);  // layers 0-1, 4, 7, 10, 13, 16, 19-21: about half

  const ModelPlan q5 = Plan("llama3.2-1b", MkmodelType::kQ5_K_M);
  EXPECT_EQ(IntKey(q5, "general.file_type"), 17);
  ExpectTensor(q5, "token_embd.weight", {2048, 128256}, GgmlType::kQ6_K);
  ExpectTensor(q5, "blk.4.attn_q.weight", {2048, 2048}, GgmlType::kQ5_K);
  ExpectTensor(q5, "rope_freqs.weight", {32}, GgmlType::kF32);

  const ModelPlan q6 = Plan("smollm2-360m", MkmodelType::kQ6_K);
  ExpectTensor(q6, "blk.0.attn_q.weight", {960, 960}, GgmlType::kQ8_0);     // 960 % 256 != 0
  ExpectTensor(q6, "blk.0.ffn_down.weight", {2560, 960}, GgmlType::kQ6_K);  // 2560 = 10 * 256

  const ModelPlan q40 = Plan("smollm2-135m", MkmodelType::kQ4_0);
  EXPECT_EQ(IntKey(q40, "general.file_type"), 2);
  ExpectTensor(q40, "token_embd.weight", {576, 49152}, GgmlType::kQ8_0);  // output rule, 576 % 256
  ExpectTensor(q40, "blk.0.attn_v.weight", {576, 192}, GgmlType::kQ4_0);

  const ModelPlan f16 = Plan("minilm-l6", MkmodelType::kF16);
  ExpectTensor(f16, "token_embd.weight", {384, 30522}, GgmlType::kF16);
  ExpectTensor(f16, "position_embd.weight", {384, 512}, GgmlType::kF32);
  ExpectTensor(f16, "token_types.weight", {384, 2}, GgmlType::kF32);
  ExpectTensor(f16, "blk.0.attn_q.weight", {384, 384}, GgmlType::kF16);
  ExpectTensor(f16, "blk.0.attn_q.bias", {384}, GgmlType::kF32);

  const ModelPlan q8 = Plan("minilm-l6", MkmodelType::kQ8_0);
  ExpectTensor(q8, "blk.2.ffn_down.weight", {1536, 384}, GgmlType::kQ8_0);
}

TEST(MkmodelTest, ParsesTypesCaseInsensitively) {
  EXPECT_EQ(ParseMkmodelType("Q4_K_M"), MkmodelType::kQ4_K_M);
  EXPECT_EQ(ParseMkmodelType("f16"), MkmodelType::kF16);
  EXPECT_EQ(ParseMkmodelType("q6_K"), MkmodelType::kQ6_K);
  EXPECT_FALSE(ParseMkmodelType("q4_k").has_value());
  EXPECT_FALSE(ParseMkmodelType("").has_value());
  EXPECT_EQ(MkmodelTypeNames().size(), 7u);
  EXPECT_EQ(FindPreset("Qwen2.5-0.5b"), nullptr);
}

TEST(MkmodelTest, RandomValuesHaveTheIntendedScale) {
  PlannedTensor t{"blk.0.attn_q.weight", GgmlType::kF32, {1 << 16}, WeightInit::kNormal, 0.5f, {}};
  std::vector<float> row(1 << 16);
  GenerateRow(t, 7, 0, row.data());
  double sum = 0, sum2 = 0;
  for (float v : row) sum += v, sum2 += static_cast<double>(v) * v;
  const double mean = sum / row.size(), std = std::sqrt(sum2 / row.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std, 0.5, 0.01);
  std::vector<float> again(row.size()), other_row(row.size()), other_seed(row.size());
  GenerateRow(t, 7, 0, again.data());
  GenerateRow(t, 7, 1, other_row.data());
  GenerateRow(t, 8, 0, other_seed.data());
  EXPECT_EQ(row, again);
  EXPECT_NE(row, other_row);
  EXPECT_NE(row, other_seed);
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string TempPath(const std::string& name) {
  static std::atomic<int> counter{0};
  return (std::filesystem::path(::testing::TempDir()) /
          ("mkmodel_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + name))
      .string();
}

// Reads a written file back and checks every tensor's name, type and shape
// against the plan and every metadata key against the plan's values.
void ExpectFileMatchesPlan(const std::string& path, const ModelPlan& plan) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->alignment(), 32u);
  ASSERT_EQ((*file)->tensors().size(), plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const GgufTensorInfo& t = (*file)->tensors()[i];
    EXPECT_EQ(t.name, plan.tensors[i].name);
    EXPECT_EQ(t.type, plan.tensors[i].type) << t.name;
    EXPECT_EQ(t.shape, plan.tensors[i].shape) << t.name;
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
  }
  for (const GgufKeyValue& kv : plan.metadata) {
    const GgufValue* v = (*file)->Find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_TRUE(*v == kv.value) << kv.key;
  }
}

TEST(MkmodelTest, WritesMiniLmDeterministically) {
  const ModelPlan plan = Plan("minilm-l6", MkmodelType::kF16, 42);
  const std::string a = TempPath("a.gguf"), b = TempPath("b.gguf"), c = TempPath("c.gguf");
  ASSERT_TRUE(WriteModel(plan, a, 2).ok());
  ASSERT_TRUE(WriteModel(plan, b, 1).ok());  // thread count must not matter
  ASSERT_TRUE(WriteModel(Plan("minilm-l6", MkmodelType::kF16, 43), c).ok());
  ExpectFileMatchesPlan(a, plan);
  const std::vector<uint8_t> bytes_a = ReadAll(a), bytes_b = ReadAll(b), bytes_c = ReadAll(c);
  EXPECT_GT(bytes_a.size(), 40u << 20);
  EXPECT_TRUE(bytes_a == bytes_b) << "same seed, different bytes";
  EXPECT_EQ(bytes_a.size(), bytes_c.size());
  EXPECT_FALSE(bytes_a == bytes_c) << "different seeds, same bytes";
  {  // the weights differ too, not only the seed in general.description
    auto fa = GgufFile::Open(a), fc = GgufFile::Open(c);
    ASSERT_TRUE(fa.ok() && fc.ok());
    for (const PlannedTensor& t : plan.tensors) {
      const auto da = (*fa)->TensorData(*(*fa)->FindTensor(t.name));
      const auto dc = (*fc)->TensorData(*(*fc)->FindTensor(t.name));
      EXPECT_FALSE(std::equal(da.begin(), da.end(), dc.begin(), dc.end())) << t.name;
    }
  }

  // The stored F16 values are the generated ones, rounded.
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(a);
  ASSERT_TRUE(file.ok());
  const GgufTensorInfo* info = (*file)->FindTensor("blk.5.ffn_down.weight");
  ASSERT_NE(info, nullptr);
  auto values = Dequantize(info->type, (*file)->TensorData(*info), info->num_elements());
  ASSERT_TRUE(values.ok());
  std::vector<float> row(1536);
  GenerateRow(*FindTensor(plan, "blk.5.ffn_down.weight"), 42, 383, row.data());
  for (int i = 0; i < 1536; ++i) EXPECT_NEAR((*values)[383 * 1536 + i], row[i], 1e-3) << i;
  for (const std::string& p : {a, b, c}) std::filesystem::remove(p);
}

TEST(MkmodelTest, WritesSmolLmAndItsLogitsAreNotFlat) {
  const ModelPlan plan = Plan("smollm2-135m", MkmodelType::kQ8_0, 5);
  const std::string path = TempPath("smollm.gguf");
  ASSERT_TRUE(WriteModel(plan, path).ok());
  ExpectFileMatchesPlan(path, plan);
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*(*file)->GetInt("llama.vocab_size"), 49152);

  // Logits of a hidden state with unit RMS (what the final RMSNorm produces)
  // through the tied, Q8_0-stored output matrix: std about 3.
  const GgufTensorInfo* out = (*file)->FindTensor("token_embd.weight");
  ASSERT_NE(out, nullptr);
  auto w = Dequantize(out->type, (*file)->TensorData(*out), out->num_elements());
  ASSERT_TRUE(w.ok());
  std::mt19937 rng(3);
  std::vector<float> h(576);
  double h2 = 0;
  for (float& v : h) v = static_cast<float>(static_cast<int32_t>(rng() % 2001) - 1000), h2 += v * v;
  for (float& v : h) v = static_cast<float>(v / std::sqrt(h2 / 576));
  double sum = 0, sum2 = 0;
  for (int64_t tok = 0; tok < 49152; ++tok) {
    double logit = 0;
    for (int i = 0; i < 576; ++i) logit += (*w)[tok * 576 + i] * h[i];
    sum += logit, sum2 += logit * logit;
  }
  const double mean = sum / 49152, std = std::sqrt(sum2 / 49152 - mean * mean);
  EXPECT_GT(std, 2.5);
  EXPECT_LT(std, 3.5);
  std::filesystem::remove(path);
}

TEST(MkmodelTest, UnwritablePathIsAnError) {
  const ModelPlan plan = Plan("minilm-l6", MkmodelType::kQ8_0);
  const absl::Status s = WriteModel(plan, "/nonexistent-dir/sub/model.gguf", 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir/sub/model.gguf"), std::string::npos) << s;
}

}  // namespace
}  // namespace tinyrag
