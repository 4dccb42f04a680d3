// The decoder's forward pass: checked against an independent float64 forward
// written here (for qwen3's per-head norms and Llama 3's rope_freqs, which the
// shared fixtures do not cover), prefill against token-by-token decode, many
// sequences in one batch against each alone, and the error paths.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "generate/arch.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/mkmodel.h"
#include "model/model_presets.h"
#include "model/quantize.h"

namespace tinyrag {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tinyrag_decoder_test_" + name)).string();
}

// A real preset shrunk to a few layers of small width (same architecture,
// tokenizer and switches), written as F32 (or `type`, `width` wide).
std::string WriteSmallModel(const std::string& preset_name, const std::string& file,
                            void (*edit)(ModelPlan&) = nullptr, MkmodelType type = MkmodelType::kF32,
                            int64_t width = 64) {
  ModelPreset p = *FindPreset(preset_name);
  p.n_embd = width;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = 2;
  p.head_dim = p.head_dim_keys ? 32 : width / 4;  // qwen3/llama3.2 keep head_dim != n_embd / n_head
  p.n_ff = width * 3 / 2;
  p.n_ctx = 64;
  auto plan = PlanModel(p, type, 7);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (edit != nullptr) edit(*plan);
  const std::string path = TempPath(file);
  EXPECT_TRUE(WriteModel(*plan, path, 1).ok());
  return path;
}

std::unique_ptr<DecoderModel> LoadOrDie(const std::string& path) {
  auto m = DecoderModel::Load(path);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

// ---- independent float64 forward ----------------------------------------

std::vector<double> Tensor64(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.FindTensor(name);
  if (t == nullptr) return {};
  std::vector<float> v(t->num_elements());
  DequantizeRow(t->type, f.TensorData(*t).data(), v.data(), t->num_elements());
  return {v.begin(), v.end()};
}

// out[r] = sum_c W[r][c] x[c], W stored row-major [rows][cols].
std::vector<double> Mul(const std::vector<double>& w, const std::vector<double>& x, size_t rows) {
  const size_t cols = x.size();
  std::vector<double> out(rows, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) out[r] += w[r * cols + c] * x[c];
  }
  return out;
}

void Norm(std::vector<double>& x, size_t off, size_t n, const std::vector<double>& w, double eps) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
  const double s = 1.0 / std::sqrt(ss / n + eps);
  for (size_t i = 0; i < n; ++i) x[off + i] = x[off + i] * s * w[i];
}

// Logits at every position of one causal pass over `ids`.
std::vector<std::vector<double>> Reference(const DecoderModel& m, const std::vector<TokenId>& ids) {
  const DecoderConfig& c = m.config();
  const GgufFile& f = m.file();
  const size_t d = c.n_embd, hd = c.head_dim, nh = c.n_head, nkv = c.n_head_kv, T = ids.size();
  const std::vector<double> embd = Tensor64(f, "token_embd.weight");
  std::vector<double> out_w = Tensor64(f, "output.weight");
  if (out_w.empty()) out_w = embd;
  const std::vector<double> freqs = Tensor64(f, "rope_freqs.weight");
  std::vector<std::vector<double>> x(T);
  for (size_t t = 0; t < T; ++t) x[t].assign(embd.begin() + ids[t] * d, embd.begin() + (ids[t] + 1) * d);
  auto rope = [&](std::vector<double>& v, size_t off, size_t pos) {
    for (size_t i = 0; i < static_cast<size_t>(c.n_rot) / 2; ++i) {
      double theta = pos * c.rope_freq_scale * std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.n_rot);
      if (!freqs.empty()) theta /= freqs[i];
      const size_t a = c.rope_style == RopeStyle::kNormal ? off + 2 * i : off + i;
      const size_t b = c.rope_style == RopeStyle::kNormal ? off + 2 * i + 1 : off + i + c.n_rot / 2;
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
      v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
  };
  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto W = [&](const char* what) { return Tensor64(f, "blk." + std::to_string(l) + "." + what); };
    const auto attn_norm = W("attn_norm.weight"), wq = W("attn_q.weight"), wk = W("attn_k.weight"),
               wv = W("attn_v.weight"), wo = W("attn_output.weight"), bq = W("attn_q.bias"),
               bk = W("attn_k.bias"), bv = W("attn_v.bias"), qn = W("attn_q_norm.weight"),
               kn = W("attn_k_norm.weight"), ffn_norm = W("ffn_norm.weight"), wg = W("ffn_gate.weight"),
               wu = W("ffn_up.weight"), wd = W("ffn_down.weight");
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> h = x[t];
      Norm(h, 0, d, attn_norm, c.rms_eps);
      q[t] = Mul(wq, h, nh * hd);
      k[t] = Mul(wk, h, nkv * hd);
      v[t] = Mul(wv, h, nkv * hd);
      for (size_t i = 0; i < bq.size(); ++i) q[t][i] += bq[i];
      for (size_t i = 0; i < bk.size(); ++i) k[t][i] += bk[i];
      for (size_t i = 0; i < bv.size(); ++i) v[t][i] += bv[i];
      for (size_t h2 = 0; h2 < nh; ++h2) {
        if (!qn.empty()) Norm(q[t], h2 * hd, hd, qn, c.rms_eps);
        rope(q[t], h2 * hd, t);
      }
      for (size_t h2 = 0; h2 < nkv; ++h2) {
        if (!kn.empty()) Norm(k[t], h2 * hd, hd, kn, c.rms_eps);
        rope(k[t], h2 * hd, t);
      }
    }
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> att(nh * hd, 0.0);
      for (size_t h2 = 0; h2 < nh; ++h2) {
        const size_t g = h2 / (nh / nkv);
        std::vector<double> s(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t p = 0; p <= t; ++p) {
          double dot = 0;
          for (size_t i = 0; i < hd; ++i) dot += q[t][h2 * hd + i] * k[p][g * hd + i];
          s[p] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[p]);
        }
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (size_t p = 0; p <= t; ++p) {
          for (size_t i = 0; i < hd; ++i) att[h2 * hd + i] += s[p] / sum * v[p][g * hd + i];
        }
      }
      const std::vector<double> o = Mul(wo, att, d);
      for (size_t i = 0; i < d; ++i) x[t][i] += o[i];
      std::vector<double> h = x[t];
      Norm(h, 0, d, ffn_norm, c.rms_eps);
      std::vector<double> g = Mul(wg, h, c.n_ff), u = Mul(wu, h, c.n_ff);
      for (int64_t i = 0; i < c.n_ff; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const std::vector<double> down = Mul(wd, g, d);
      for (size_t i = 0; i < d; ++i) x[t][i] += down[i];
    }
  }
  const std::vector<double> out_norm = Tensor64(f, "output_norm.weight");
  std::vector<std::vector<double>> logits(T);
  for (size_t t = 0; t < T; ++t) {
    Norm(x[t], 0, d, out_norm, c.rms_eps);
    logits[t] = Mul(out_w, x[t], c.n_vocab);
  }
  return logits;
}

double Kl(const std::vector<double>& ref, std::span<const float> ours) {
  double mr = -1e300, mo = -1e300, sr = 0, so = 0;
  for (size_t i = 0; i < ref.size(); ++i) mr = std::max(mr, ref[i]), mo = std::max(mo, double(ours[i]));
  for (size_t i = 0; i < ref.size(); ++i) sr += std::exp(ref[i] - mr), so += std::exp(ours[i] - mo);
  double kl = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double lp = ref[i] - mr - std::log(sr), lq = ours[i] - mo - std::log(so);
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}

std::vector<TokenId> SomeIds(int n, int64_t vocab, int salt) {
  std::vector<TokenId> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<TokenId>((i * 37 + salt * 101 + 11) % vocab));
  return ids;
}

// Our logits for every position of `ids`, fed in chunks of `chunk` tokens.
std::vector<std::vector<float>> Ours(const DecoderModel& m, const std::vector<TokenId>& ids, int64_t chunk,
                                     KvCacheType kv, ThreadPool* pool) {
  DecoderContextOptions o;
  o.n_ctx = static_cast<int64_t>(ids.size());
  o.max_batch = chunk;
  o.max_outputs = chunk;
  o.kv_type = kv;
  o.activations = ActivationMode::kF32;
  auto ctx = DecoderContext::Create(m, o, pool);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  std::vector<std::vector<float>> out;
  for (size_t at = 0; at < ids.size(); at += chunk) {
    std::vector<BatchToken> batch;
    for (size_t i = at; i < std::min(ids.size(), at + chunk); ++i) batch.push_back({ids[i], 0, true});
    EXPECT_TRUE((*ctx)->Decode(batch).ok());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto l = (*ctx)->logits(i);
      out.emplace_back(l.begin(), l.end());
    }
  }
  return out;
}

void ExpectMatchesReference(const std::string& preset, void (*edit)(ModelPlan&) = nullptr) {
  const std::string path = WriteSmallModel(preset, preset + ".gguf", edit);
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  const std::vector<TokenId> ids = SomeIds(60, m->config().n_vocab, 1);  // long: RoPE differences grow with position
  const auto ref = Reference(*m, ids);
  ThreadPool pool(2);
  const auto ours = Ours(*m, ids, 8, KvCacheType::kF32, &pool);
  ASSERT_EQ(ours.size(), ref.size());
  double kl = 0;
  for (size_t t = 0; t < ids.size(); ++t) kl += Kl(ref[t], ours[t]);
  EXPECT_LT(kl / ids.size(), 1e-6) << preset;
  std::filesystem::remove(path);
}

TEST(DecoderTest, Qwen3MatchesFloat64Reference) { ExpectMatchesReference("qwen3-0.6b"); }
TEST(DecoderTest, Llama32RopeFreqsMatchFloat64Reference) {
  const std::string path = WriteSmallModel("llama3.2-1b", "llama32_probe.gguf");
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->rope_freq_factors().empty());  // the scaling under test is present
  std::filesystem::remove(path);
  ExpectMatchesReference("llama3.2-1b");
}
TEST(DecoderTest, Qwen2MatchesFloat64Reference) { ExpectMatchesReference("qwen2.5-0.5b"); }
TEST(DecoderTest, SmolLMMatchesFloat64Reference) { ExpectMatchesReference("smollm2-135m"); }

TEST(DecoderTest, PrefillChunksGiveTheSameLogitsAsOneByOne) {
  const std::string path = WriteSmallModel("qwen2.5-0.5b", "chunks.gguf");
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  const std::vector<TokenId> ids = SomeIds(20, m->config().n_vocab, 2);
  const auto one = Ours(*m, ids, 1, KvCacheType::kF16, nullptr);
  const auto many = Ours(*m, ids, 7, KvCacheType::kF16, nullptr);
  for (size_t t = 0; t < ids.size(); ++t) {
    for (size_t i = 0; i < one[t].size(); ++i) ASSERT_NEAR(one[t][i], many[t][i], 1e-4) << t << " " << i;
  }
  std::filesystem::remove(path);
}

// Four sequences decoded greedily in one batch (one prefill, then a token of
// each per step) give the tokens each gives alone.
void ExpectBatchedDecodeEqualsAlone(const DecoderModel& model) {
  const DecoderModel* m = &model;
  ThreadPool pool(2);
  const int kSeqs = 4, kSteps = 12;
  std::vector<std::vector<TokenId>> prompts;
  for (int s = 0; s < kSeqs; ++s) prompts.push_back(SomeIds(3 + 2 * s, m->config().n_vocab, 10 + s));
  auto argmax = [](std::span<const float> l) {
    return static_cast<TokenId>(std::max_element(l.begin(), l.end()) - l.begin());
  };
  // Alone: one sequence per context.
  std::vector<std::vector<TokenId>> alone(kSeqs);
  for (int s = 0; s < kSeqs; ++s) {
    auto ctx = DecoderContext::Create(*m, {.n_ctx = 64, .max_batch = 16}, &pool);
    ASSERT_TRUE(ctx.ok());
    std::vector<BatchToken> batch;
    for (size_t i = 0; i < prompts[s].size(); ++i) batch.push_back({prompts[s][i], 0, i + 1 == prompts[s].size()});
    ASSERT_TRUE((*ctx)->Decode(batch).ok());
    for (int step = 0; step < kSteps; ++step) {
      alone[s].push_back(argmax((*ctx)->logits(0)));
      const BatchToken next{alone[s].back(), 0, true};
      ASSERT_TRUE((*ctx)->Decode({&next, 1}).ok());
    }
  }
  // Together: all prompts in one prefill batch, then one token of each per step.
  auto ctx = DecoderContext::Create(*m, {.n_ctx = 64, .n_seq = kSeqs, .max_batch = 64}, &pool);
  ASSERT_TRUE(ctx.ok());
  std::vector<BatchToken> batch;
  for (int s = 0; s < kSeqs; ++s) {
    for (size_t i = 0; i < prompts[s].size(); ++i) batch.push_back({prompts[s][i], s, i + 1 == prompts[s].size()});
  }
  std::vector<std::vector<TokenId>> together(kSeqs);
  ASSERT_TRUE((*ctx)->Decode(batch).ok());
  for (int step = 0; step < kSteps; ++step) {
    batch.clear();
    for (int s = 0; s < kSeqs; ++s) {
      together[s].push_back(argmax((*ctx)->logits(s)));
      batch.push_back({together[s].back(), s, true});
    }
    ASSERT_TRUE((*ctx)->Decode(batch).ok());
  }
  EXPECT_EQ(together, alone);
  for (int s = 0; s < kSeqs; ++s) EXPECT_EQ((*ctx)->sequence_length(s), prompts[s].size() + kSteps);
}

TEST(DecoderTest, FourSequencesInOneBatchDecodeAsEachAlone) {
  const std::string path = WriteSmallModel("smollm2-135m", "batch.gguf");
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  ExpectBatchedDecodeEqualsAlone(*m);
  std::filesystem::remove(path);
}

// Where the CPU prefers it, Q4_0/Q5_0/Q8_0 matrices are converted to the quad
// layout at load: every matrix still holds the file's weights, and batched
// decoding still equals decoding alone.
TEST(DecoderTest, QuadLayoutMatricesHoldTheFileWeights) {
  for (MkmodelType type : {MkmodelType::kQ8_0, MkmodelType::kQ4_0}) {
    const std::string path = WriteSmallModel("qwen2.5-0.5b", "quads.gguf", nullptr, type, 128);
    auto m = LoadOrDie(path);
    ASSERT_NE(m, nullptr);
    const DecoderLayer& l = m->layers()[0];
    const GgufFile& f = m->file();
    const std::pair<const WeightView*, std::string> matrices[] = {
        {&l.wq, "blk.0.attn_q.weight"},       {&l.w_gate, "blk.0.ffn_gate.weight"},
        {&l.w_down, "blk.0.ffn_down.weight"}, {&m->token_embd(), "token_embd.weight"}};
    for (const auto& [w, name] : matrices) {
      SCOPED_TRACE(name);
      const GgufTensorInfo* t = f.FindTensor(name);
      ASSERT_NE(t, nullptr);
      const WeightView file_view = DenseWeights(t->type, w->rows, w->cols, f.TensorData(*t).data());
      EXPECT_EQ(w->layout, PrefersQuadLayout(file_view) ? WeightLayout::kQuads : WeightLayout::kGgml);
      std::vector<float> want(w->cols), got(w->cols);
      for (int64_t r = 0; r < w->rows; r += 7) {
        DequantizeWeightRow(file_view, r, want.data());
        DequantizeWeightRow(*w, r, got.data());
        ASSERT_EQ(got, want) << "row " << r;
      }
    }
    ExpectBatchedDecodeEqualsAlone(*m);
    std::filesystem::remove(path);
  }
}

TEST(DecoderTest, BatchesWiderThanOneFfnBlockMatchEachSequenceAlone) {
  const std::string path = WriteSmallModel("qwen2.5-0.5b", "wide.gguf");
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  ThreadPool pool(2);
  const int kSeqs = 3, kLen = 50;  // 150 rows in one pass: more than one FFN block
  auto ctx = DecoderContext::Create(*m, {.n_ctx = 64, .n_seq = kSeqs, .max_batch = 160, .max_outputs = 160}, &pool);
  ASSERT_TRUE(ctx.ok());
  std::vector<BatchToken> batch;
  for (int s = 0; s < kSeqs; ++s) {
    for (TokenId id : SomeIds(kLen, m->config().n_vocab, 20 + s)) batch.push_back({id, s, true});
  }
  ASSERT_TRUE((*ctx)->Decode(batch).ok());
  for (int s = 0; s < kSeqs; ++s) {
    const auto alone = Ours(*m, SomeIds(kLen, m->config().n_vocab, 20 + s), 1, KvCacheType::kF16, &pool);
    for (int t = 0; t < kLen; ++t) {
      const auto together = (*ctx)->logits(s * kLen + t);
      for (size_t i = 0; i < together.size(); ++i) ASSERT_NEAR(together[i], alone[t][i], 1e-4) << s << " " << t;
    }
  }
  std::filesystem::remove(path);
}

TEST(DecoderTest, ExceedingTheContextIsAnError) {
  const std::string path = WriteSmallModel("qwen2.5-0.5b", "ctx.gguf");
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  auto ctx = DecoderContext::Create(*m, {.n_ctx = 4, .max_batch = 8}, nullptr);
  ASSERT_TRUE(ctx.ok());
  std::vector<BatchToken> five(5, BatchToken{1, 0, false});
  absl::Status s = (*ctx)->Decode(five);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("context length 4 exceeded"));
  EXPECT_EQ((*ctx)->sequence_length(0), 0);  // nothing was stored
  EXPECT_TRUE((*ctx)->Decode({five.data(), 4}).ok());
  EXPECT_EQ((*ctx)->Decode({five.data(), 1}).code(), absl::StatusCode::kOutOfRange);
  (*ctx)->TruncateSequence(0, 2);
  EXPECT_TRUE((*ctx)->Decode({five.data(), 2}).ok());
  // Options beyond the model's trained length, bad ids and sequences are refused.
  EXPECT_FALSE(DecoderContext::Create(*m, {.n_ctx = 65}, nullptr).ok());
  const BatchToken bad_id{static_cast<TokenId>(m->config().n_vocab), 0, false};
  EXPECT_FALSE((*ctx)->Decode({&bad_id, 1}).ok());
  const BatchToken bad_seq{1, 3, false};
  EXPECT_FALSE((*ctx)->Decode({&bad_seq, 1}).ok());
  std::filesystem::remove(path);
}

TEST(DecoderTest, UnknownArchitectureListsTheSupportedOnes) {
  const std::string path = WriteSmallModel("qwen2.5-0.5b", "arch.gguf", [](ModelPlan& plan) {
    for (GgufKeyValue& kv : plan.metadata) {
      if (kv.key == "general.architecture") kv.value = GgufValue::String("mamba");
    }
  });
  auto m = DecoderModel::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("\"mamba\""));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("llama, qwen2, qwen3"));
  std::filesystem::remove(path);
}

TEST(DecoderTest, MissingTensorIsNamed) {
  const std::string path = WriteSmallModel("qwen2.5-0.5b", "missing.gguf", [](ModelPlan& plan) {
    std::erase_if(plan.tensors, [](const PlannedTensor& t) { return t.name == "blk.1.attn_v.bias"; });
  });
  auto m = DecoderModel::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("missing tensor blk.1.attn_v.bias"));
  std::filesystem::remove(path);
}

void SetKey(ModelPlan& plan, const std::string& key, GgufValue value) {
  for (GgufKeyValue& kv : plan.metadata) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  plan.metadata.push_back({key, std::move(value)});
}

TEST(DecoderTest, LinearRopeScalingIsReadAndOtherScalingsAreRefused) {
  auto set_linear = [](ModelPlan& plan) {
    SetKey(plan, "llama.rope.scaling.type", GgufValue::String("linear"));
    SetKey(plan, "llama.rope.scaling.factor", GgufValue::F32(4.0f));
  };
  const std::string linear = WriteSmallModel("smollm2-135m", "linear.gguf", set_linear);
  auto m = LoadOrDie(linear);
  ASSERT_NE(m, nullptr);
  EXPECT_FLOAT_EQ(m->config().rope_freq_scale, 0.25f);
  std::filesystem::remove(linear);
  ExpectMatchesReference("smollm2-135m", set_linear);  // positions scaled in both forwards
  const std::string yarn = WriteSmallModel("smollm2-135m", "yarn.gguf", [](ModelPlan& plan) {
    SetKey(plan, "llama.rope.scaling.type", GgufValue::String("yarn"));
  });
  auto y = DecoderModel::Load(yarn);
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("RoPE scaling type \"yarn\" is not supported"));
  std::filesystem::remove(yarn);
}

TEST(DecoderTest, FindArchKnowsEachTable) {
  for (const char* name : {"llama", "qwen2", "qwen3"}) {
    auto a = FindArch(name);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ((*a)->name, name);
  }
  EXPECT_EQ((*FindArch("qwen2"))->rope_style, RopeStyle::kNeox);
  EXPECT_EQ((*FindArch("llama"))->rope_style, RopeStyle::kNormal);
  EXPECT_FALSE((*FindArch("qwen3"))->tensors.attn_q_norm.empty());
  EXPECT_FALSE((*FindArch("qwen2"))->tensors.attn_q_bias.empty());
}

}  // namespace
}  // namespace tinyrag
