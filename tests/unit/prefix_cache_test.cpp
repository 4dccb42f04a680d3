// The prompt-prefix KV cache: DecoderContext::SaveKv/RestoreKv, the context's
// small LRU of prefixes (RestoreCachedPrefix/CachePrefix), PrefillSharedPrefix
// and GenerateOptions::shared_prefix_tokens through Generate, GenerateBatch
// and the BatchScheduler, and the service's adapters (service/answerer.h)
// passing GenerationCall::prefix_tokens on. The reference everywhere is the
// same prompt prefilled without the cache.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "generate/batch_scheduler.h"
#include "generate/decoder_context.h"
#include "generate/generator.h"
#include "gtest/gtest.h"
#include "model/cpu_features.h"
#include "model/mkmodel.h"
#include "model/model_presets.h"
#include "service/answerer.h"

namespace tinyrag {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures";

std::unique_ptr<DecoderModel> LoadModel(const std::filesystem::path& path) {
  auto m = DecoderModel::Load(path.string());
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

// Seeded random ids in [lo, n_vocab) (lo skips the control tokens at the front).
std::vector<TokenId> RandomIds(const DecoderModel& model, size_t n, uint64_t seed, TokenId lo = 8) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<TokenId> id(lo, static_cast<TokenId>(model.config().n_vocab - 1));
  std::vector<TokenId> ids(n);
  for (TokenId& t : ids) t = id(rng);
  return ids;
}

std::vector<TokenId> Concat(std::span<const TokenId> a, std::span<const TokenId> b) {
  std::vector<TokenId> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Logits of the last prompt token: the whole prompt in chunks of max_batch
// (prefix == 0; the first chunk ends at `first_chunk` when that is set), or
// its first `prefix` tokens through PrefillSharedPrefix and then the rest.
std::vector<float> LastLogits(DecoderContext& ctx, int seq, std::span<const TokenId> prompt, int64_t prefix,
                              int64_t* reused = nullptr, int64_t first_chunk = 0) {
  int64_t at = 0;
  if (prefix > 0) {
    auto fill = PrefillSharedPrefix(ctx, seq, prompt, prefix, nullptr);
    EXPECT_TRUE(fill.ok()) << fill.status();
    if (!fill.ok()) return {};
    at = fill->filled;
    if (reused != nullptr) *reused = fill->reused;
  } else {
    ctx.TruncateSequence(seq, 0);
  }
  std::vector<BatchToken> batch;
  while (at < static_cast<int64_t>(prompt.size())) {
    batch.clear();
    int64_t end = std::min<int64_t>(prompt.size(), at + ctx.options().max_batch);
    if (at == 0 && first_chunk > 0) end = first_chunk;
    for (int64_t i = at; i < end; ++i) batch.push_back({prompt[i], seq, i + 1 == static_cast<int64_t>(prompt.size())});
    absl::Status s = ctx.Decode(batch);
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return {};
    at = end;
  }
  auto l = ctx.logits(0);
  return {l.begin(), l.end()};
}

float MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// ---- SaveKv / RestoreKv ---------------------------------------------------

class KvRowsTest : public ::testing::TestWithParam<KvCacheType> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kFixtures / "models/llama-tiny-f32.gguf")) {
      GTEST_SKIP() << "shared fixtures absent: " << kFixtures;
    }
    model_ = LoadModel(kFixtures / "models/llama-tiny-f32.gguf");
    ASSERT_NE(model_, nullptr);
  }
  std::unique_ptr<DecoderModel> model_;
};

TEST_P(KvRowsTest, RestoredRowsContinueExactlyLikeTheOriginal) {
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 64, .n_seq = 3, .max_batch = 32, .kv_type = GetParam()}, nullptr);
  ASSERT_TRUE(ctx.ok());
  DecoderContext& c = **ctx;
  const std::vector<TokenId> prompt = RandomIds(*model_, 20, 1);
  // Sequence 0: [0, 12) then [12, 20) -- the reference.
  std::vector<BatchToken> head, tail;
  for (int i = 0; i < 12; ++i) head.push_back({prompt[i], 0, false});
  for (int i = 12; i < 20; ++i) tail.push_back({prompt[i], 0, i == 19});
  ASSERT_TRUE(c.Decode(head).ok());
  KvRows all, upper;
  ASSERT_TRUE(c.SaveKv(0, 0, 12, all).ok());
  ASSERT_TRUE(c.SaveKv(0, 4, 12, upper).ok());
  EXPECT_EQ(all.begin(), 0);
  EXPECT_EQ(all.end(), 12);
  const size_t elem = GetParam() == KvCacheType::kF16 ? 2 : 4;
  EXPECT_GE(all.bytes(), 2 * 12 * model_->config().n_layer * model_->config().n_head_kv * model_->config().head_dim * elem);
  ASSERT_TRUE(c.Decode(tail).ok());
  const std::vector<float> want(c.logits(0).begin(), c.logits(0).end());

  // Sequence 1: all 12 rows restored; sequence 2: rows [0, 4) restored from
  // `all`, then [4, 12) from `upper` -- both then take the same tail.
  ASSERT_TRUE(c.RestoreKv(all, 12, 1).ok());
  EXPECT_EQ(c.sequence_length(1), 12);
  ASSERT_TRUE(c.RestoreKv(all, 4, 2).ok());
  ASSERT_TRUE(c.RestoreKv(upper, 12, 2).ok());
  EXPECT_EQ(c.sequence_length(2), 12);
  for (int seq : {1, 2}) {
    for (BatchToken& t : tail) t.seq = seq;
    ASSERT_TRUE(c.Decode(tail).ok());
    const std::span<const float> got = c.logits(0);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin(), want.end())) << "sequence " << seq;
  }
  // Restoring a shorter range forgets the positions after it.
  ASSERT_TRUE(c.RestoreKv(all, 5, 1).ok());
  EXPECT_EQ(c.sequence_length(1), 5);
}

TEST_P(KvRowsTest, BadRangesSequencesAndForeignRowsAreRefusedWithNothingChanged) {
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 64, .n_seq = 2, .kv_type = GetParam()}, nullptr);
  ASSERT_TRUE(ctx.ok());
  DecoderContext& c = **ctx;
  std::vector<BatchToken> batch;
  for (TokenId t : RandomIds(*model_, 6, 2)) batch.push_back({t, 0, false});
  ASSERT_TRUE(c.Decode(batch).ok());
  KvRows rows;
  EXPECT_EQ(c.SaveKv(2, 0, 1, rows).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SaveKv(-1, 0, 1, rows).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SaveKv(0, 0, 7, rows).code(), absl::StatusCode::kInvalidArgument);  // past the sequence
  EXPECT_EQ(c.SaveKv(0, 4, 3, rows).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SaveKv(0, -1, 3, rows).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(c.SaveKv(0, 2, 6, rows).ok());
  EXPECT_EQ(c.RestoreKv(rows, 6, 1).code(), absl::StatusCode::kInvalidArgument);  // sequence 1 is shorter than 2
  EXPECT_EQ(c.RestoreKv(rows, 7, 0).code(), absl::StatusCode::kInvalidArgument);  // past the rows
  EXPECT_EQ(c.RestoreKv(rows, 1, 0).code(), absl::StatusCode::kInvalidArgument);  // before them
  EXPECT_EQ(c.RestoreKv(rows, 6, 5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.sequence_length(0), 6);
  EXPECT_EQ(c.sequence_length(1), 0);
  KvRows empty;  // never saved
  EXPECT_EQ(c.RestoreKv(empty, 0, 0).code(), absl::StatusCode::kInvalidArgument);
  // Rows of another KV type or another model.
  const KvCacheType other = GetParam() == KvCacheType::kF16 ? KvCacheType::kF32 : KvCacheType::kF16;
  auto ctx2 = DecoderContext::Create(*model_, {.n_ctx = 64, .kv_type = other}, nullptr);
  ASSERT_TRUE(ctx2.ok());
  ASSERT_TRUE((*ctx2)->Decode(batch).ok());
  EXPECT_EQ((*ctx2)->RestoreKv(rows, 6, 0).code(), absl::StatusCode::kInvalidArgument);
  auto model2 = LoadModel(kFixtures / "models/llama-tiny-f32.gguf");
  auto ctx3 = DecoderContext::Create(*model2, {.n_ctx = 64, .kv_type = GetParam()}, nullptr);
  ASSERT_TRUE(ctx3.ok());
  ASSERT_TRUE((*ctx3)->Decode(batch).ok());
  EXPECT_EQ((*ctx3)->RestoreKv(rows, 6, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*ctx3)->sequence_length(0), 6);
}

INSTANTIATE_TEST_SUITE_P(KvTypes, KvRowsTest, ::testing::Values(KvCacheType::kF16, KvCacheType::kF32));

// ---- the context's prefix LRU ----------------------------------------------

TEST(PrefixLruTest, LongestMatchWinsAndTheLeastRecentlyUsedIsReplaced) {
  if (!std::filesystem::exists(kFixtures / "models/llama-tiny-f32.gguf")) GTEST_SKIP() << "fixtures absent";
  auto model = LoadModel(kFixtures / "models/llama-tiny-f32.gguf");
  ASSERT_NE(model, nullptr);
  auto ctx = DecoderContext::Create(*model, {.n_ctx = 64, .n_seq = 2, .prefix_cache_entries = 2}, nullptr);
  ASSERT_TRUE(ctx.ok());
  DecoderContext& c = **ctx;
  const std::vector<TokenId> a = RandomIds(*model, 10, 3);
  std::vector<TokenId> b = a;
  b[6] = a[6] == 100 ? 101 : 100;  // shares 6 leading ids with a
  const std::vector<TokenId> d = RandomIds(*model, 8, 4, 200);
  auto fill = [&](std::span<const TokenId> ids) {
    std::vector<BatchToken> batch;
    for (TokenId t : ids) batch.push_back({t, 0, false});
    c.TruncateSequence(0, 0);
    ASSERT_TRUE(c.Decode(batch).ok());
  };
  EXPECT_EQ(c.prefix_cache_bytes(), 0u);  // nothing allocated before first use
  EXPECT_EQ(c.RestoreCachedPrefix(1, a), 0);
  fill(a);
  ASSERT_TRUE(c.CachePrefix(0, a).ok());
  EXPECT_GT(c.prefix_cache_bytes(), 0u);
  EXPECT_EQ(c.CachePrefix(0, Concat(a, a)).code(), absl::StatusCode::kInvalidArgument);  // longer than the sequence
  EXPECT_EQ(c.CachePrefix(3, a).code(), absl::StatusCode::kInvalidArgument);
  fill(b);
  ASSERT_TRUE(c.CachePrefix(0, b).ok());
  EXPECT_EQ(c.RestoreCachedPrefix(1, Concat(a, d)), 10);  // a itself
  EXPECT_EQ(c.sequence_length(1), 10);
  EXPECT_EQ(c.RestoreCachedPrefix(1, std::span(a).first(4)), 4);
  EXPECT_EQ(c.RestoreCachedPrefix(1, Concat(std::span(a).first(7), d)), 7);
  EXPECT_EQ(c.RestoreCachedPrefix(1, Concat(std::span(b).first(8), d)), 8);  // b (used last)
  EXPECT_EQ(c.RestoreCachedPrefix(1, d), 0);
  EXPECT_EQ(c.sequence_length(1), 0);  // cleared even on a miss
  // b was used last, so d replaces a.
  fill(d);
  ASSERT_TRUE(c.CachePrefix(0, d).ok());
  EXPECT_EQ(c.RestoreCachedPrefix(1, d), 8);
  EXPECT_EQ(c.RestoreCachedPrefix(1, b), 10);
  EXPECT_EQ(c.RestoreCachedPrefix(1, a), 6);  // only b's shared part is left
  EXPECT_EQ(c.RestoreCachedPrefix(9, a), 0);

  auto off = DecoderContext::Create(*model, {.n_ctx = 64, .prefix_cache_entries = 0}, nullptr);
  ASSERT_TRUE(off.ok());
  std::vector<BatchToken> batch;
  for (TokenId t : a) batch.push_back({t, 0, false});
  ASSERT_TRUE((*off)->Decode(batch).ok());
  ASSERT_TRUE((*off)->CachePrefix(0, a).ok());
  EXPECT_EQ((*off)->RestoreCachedPrefix(0, a), 0);
  EXPECT_EQ((*off)->prefix_cache_bytes(), 0u);
  EXPECT_FALSE(DecoderContext::Create(*model, {.prefix_cache_entries = -1}, nullptr).ok());
}

// ---- numerics: reuse against the whole prompt -------------------------------

// A real preset shrunk (256 wide so k-quant rows stay k-quants, 2 layers,
// 2048-token vocabulary), written to the temporary directory (~0.5 s).
std::string ShrunkPreset(const std::string& preset, MkmodelType type, const std::string& type_name) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tinyrag_prefix_test_" + preset + "_" + type_name + ".gguf")).string();
  ModelPreset p = *FindPreset(preset);
  p.n_embd = 256;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = 2;
  p.head_dim = 64;
  p.n_ff = 512;
  p.n_ctx = 256;
  p.n_vocab = 2048;
  auto plan = PlanModel(p, type, 11);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (plan.ok()) {
    EXPECT_TRUE(WriteModel(*plan, path, 1).ok());
  }
  return path;
}

struct NumericsCase {
  std::string name;
  std::filesystem::path path;
};

std::vector<NumericsCase> NumericsCases() {
  std::vector<NumericsCase> cases;
  for (const char* f : {"llama-tiny-f32", "llama-tiny-q8_0", "llama-tiny-q4_0", "llama-tiny-q4_k_m", "qwen2-tiny-f16",
                        "qwen2-tiny-q8_0", "qwen2-tiny-q4_k_m"}) {
    cases.push_back({f, kFixtures / "models" / (std::string(f) + ".gguf")});
  }
  cases.push_back({"stories260K", kFixtures / "real/stories260K.gguf"});
  return cases;
}

// Reports the largest logit difference seen, per chunking, for the docs.
void Report(const std::string& what, float diff) { std::printf("[ prefix  ] %-40s max |dlogit| %.3g\n", what.c_str(), diff); }

// Logits of the last prompt token with the prefix reused (cold: computed and
// cached; warm: copied) against the same prompt without the cache.
//  - Reuse adds no error: warm == cold == the prompt prefilled without the
//    cache in the same passes ([0, P) then the rest), bit for bit.
//  - Against one pass over the whole prompt the split itself can matter: with
//    both passes of 16 rows or more, on AVX-512 VNNI every quantized MatMul
//    takes the panel path, whose per-row result does not depend on the row
//    count: bit-identical (measured 0 for every model here, float ones too).
//    A rest of fewer than 16 rows takes the row kernels, whose sums for the
//    32-wide formats are ordered differently, and with 8-bit activations a
//    last-bit change can move a quantization step: measured up to 0.08 on the
//    shrunk qwen2.5 Q8_0 (logits up to ~13), <= 1.5e-6 on the others.
void ExpectReuseMatches(const DecoderModel& model, const std::string& name) {
  auto ctx = DecoderContext::Create(model, {.n_ctx = 96, .n_seq = 2, .max_batch = 96}, nullptr);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  DecoderContext& c = **ctx;
  const std::vector<TokenId> prefix = RandomIds(model, 40, 5);
  float worst_long = 0, worst_short = 0;
  for (const int suffix_len : {24, 5}) {  // rest of the prompt: a panel-sized pass, then a short one
    const std::vector<TokenId> prompt = Concat(prefix, RandomIds(model, suffix_len, 6 + suffix_len));
    const std::vector<float> whole = LastLogits(c, 0, prompt, 0);
    int64_t reused = -1;
    const std::vector<float> cold = LastLogits(c, 1, prompt, 40, &reused);
    EXPECT_EQ(reused, suffix_len == 24 ? 0 : 40) << name;  // the second prompt finds the first one's prefix
    const std::vector<float> warm = LastLogits(c, 0, prompt, 40, &reused);
    EXPECT_EQ(reused, 40) << name;
    // A hit gives exactly what computing the prefix gives.
    EXPECT_TRUE(cold == warm) << name;
    const float d = MaxAbsDiff(whole, warm);
    // Without the cache, chunked where the prefix ends: the same passes.
    const std::vector<float> split = LastLogits(c, 1, prompt, 0, nullptr, 40);
    EXPECT_TRUE(split == warm) << name;
    (suffix_len == 24 ? worst_long : worst_short) = d;
    const auto argmax = [](const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
    EXPECT_EQ(argmax(whole), argmax(warm)) << name;
  }
  Report(name + " (rest 24 rows)", worst_long);
  Report(name + " (rest 5 rows)", worst_short);
  EXPECT_LE(worst_long, 1e-4f) << name;
  EXPECT_LE(worst_short, 0.25f) << name;
  const bool panel = ActiveCpuLevel() == CpuLevel::kAvx512 && DetectCpuFeatures().avx512_vnni;
  if (panel && model.layers()[0].wq.type != GgmlType::kF32 &&
      model.layers()[0].wq.type != GgmlType::kF16) {
    EXPECT_EQ(worst_long, 0.0f) << name << ": panel passes should be bit-identical";
  }
}

TEST(PrefixNumericsTest, FixtureModelsGiveTheLogitsOfTheWholePrompt) {
  for (const NumericsCase& c : NumericsCases()) {
    if (!std::filesystem::exists(c.path)) GTEST_SKIP() << "shared fixtures absent: " << c.path;
    auto model = LoadModel(c.path);
    ASSERT_NE(model, nullptr);
    ExpectReuseMatches(*model, c.name);
  }
}

TEST(PrefixNumericsTest, MkmodelPresetsGiveTheLogitsOfTheWholePrompt) {
  for (const char* preset : {"smollm2-135m", "qwen2.5-0.5b"}) {
    for (auto [type, type_name] : {std::pair{MkmodelType::kQ8_0, "q8_0"}, std::pair{MkmodelType::kQ4_K_M, "q4_k_m"}}) {
      auto model = LoadModel(ShrunkPreset(preset, type, type_name));
      ASSERT_NE(model, nullptr);
      ExpectReuseMatches(*model, std::string(preset) + " " + type_name);
    }
  }
}

// ---- through Generate / GenerateBatch ----------------------------------------

GenerateOptions Greedy(int64_t shared_prefix, int max_tokens = 16) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampler.temperature = 0;
  o.top_logprobs = 3;
  o.shared_prefix_tokens = shared_prefix;
  return o;
}

void ExpectSameTokens(const GenerateResult& got, const GenerateResult& want, float logprob_bound,
                      const std::string& name) {
  ASSERT_EQ(got.tokens.size(), want.tokens.size()) << name;
  for (size_t t = 0; t < want.tokens.size(); ++t) {
    EXPECT_EQ(got.tokens[t].id, want.tokens[t].id) << name << " token " << t;
    EXPECT_NEAR(got.tokens[t].logprob, want.tokens[t].logprob, logprob_bound) << name << " token " << t;
  }
  EXPECT_EQ(got.text, want.text) << name;
  EXPECT_EQ(got.stop, want.stop) << name;
}

TEST(PrefixGenerateTest, GreedyTokensWithReuseAreThoseWithout) {
  std::vector<NumericsCase> cases = NumericsCases();
  for (auto [preset, type, type_name] : {std::tuple{"qwen2.5-0.5b", MkmodelType::kQ8_0, "q8_0"},
                                         std::tuple{"qwen2.5-0.5b", MkmodelType::kQ4_K_M, "q4_k_m"},
                                         std::tuple{"smollm2-135m", MkmodelType::kQ4_K_M, "q4_k_m"}}) {
    cases.push_back({std::string(preset) + " " + type_name, ShrunkPreset(preset, type, type_name)});
  }
  for (const NumericsCase& c : cases) {
    if (!std::filesystem::exists(c.path)) GTEST_SKIP() << "shared fixtures absent: " << c.path;
    auto model = LoadModel(c.path);
    ASSERT_NE(model, nullptr);
    auto ctx = DecoderContext::Create(*model, {.n_ctx = 96, .max_batch = 64}, nullptr);
    ASSERT_TRUE(ctx.ok());
    const std::vector<TokenId> prompt = Concat(RandomIds(*model, 30, 8), RandomIds(*model, 20, 9));
    auto without = Generate(**ctx, 0, prompt, Greedy(0));
    ASSERT_TRUE(without.ok()) << without.status();
    EXPECT_EQ(without->cached_prompt_tokens, 0);
    EXPECT_EQ((*ctx)->prefix_cache_bytes(), 0u) << "P = 0 caches nothing";
    for (int64_t want_cached : {0, 30}) {  // cold, then warm
      auto with = Generate(**ctx, 0, prompt, Greedy(30));
      ASSERT_TRUE(with.ok()) << with.status();
      EXPECT_EQ(with->cached_prompt_tokens, want_cached) << c.name;
      // Both passes are >= 16 rows: the log-probs agree to float rounding.
      ExpectSameTokens(*with, *without, 1e-5f, c.name);
    }
  }
}

class PrefixStoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kFixtures / "real/stories260K.gguf")) GTEST_SKIP() << "shared fixtures absent";
    model_ = LoadModel(kFixtures / "real/stories260K.gguf");
    ASSERT_NE(model_, nullptr);
    const Tokenizer& tok = model_->tokenizer();
    prefix_ = tok.Encode("Once upon a time, there was a little girl named Lily. She loved to play", {.add_special = true});
    for (const char* s : {" outside in the park.", " with her dog and her red ball.", " games with Tom.",
                          " in the garden every day."}) {
      std::vector<TokenId> rest = tok.Encode(s, {.add_special = false});
      prompts_.push_back(Concat(prefix_, rest));
    }
  }
  // Each prompt alone, prefilled whole without the cache.
  std::vector<GenerateResult> Alone(const std::vector<GenerateOptions>& options) {
    auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8, .prefix_cache_entries = 0}, nullptr);
    EXPECT_TRUE(ctx.ok());
    std::vector<GenerateResult> out;
    for (size_t i = 0; i < prompts_.size(); ++i) {
      auto r = Generate(**ctx, 0, prompts_[i], options[i]);
      EXPECT_TRUE(r.ok()) << r.status();
      out.push_back(r.ok() ? *r : GenerateResult{});
    }
    return out;
  }
  std::unique_ptr<DecoderModel> model_;
  std::vector<TokenId> prefix_;
  std::vector<std::vector<TokenId>> prompts_;
};

TEST_F(PrefixStoriesTest, PromptsSharingThePrefixComputeItOnceAndGetTheSameTokens) {
  const int64_t p = static_cast<int64_t>(prefix_.size());
  std::vector<GenerateOptions> options;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    GenerateOptions o = Greedy(p, 24);
    o.sampler.temperature = i % 2 ? 0.8f : 0.0f;  // seeded sampling too
    o.sampler.seed = 30 + i;
    options.push_back(o);
  }
  const std::vector<GenerateResult> alone = Alone(options);
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8}, nullptr);
  ASSERT_TRUE(ctx.ok());
  for (size_t i = 0; i < prompts_.size(); ++i) {
    auto r = Generate(**ctx, 0, prompts_[i], options[i]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cached_prompt_tokens, i == 0 ? 0 : p) << i;
    ExpectSameTokens(*r, alone[i], 1e-4f, "prompt " + std::to_string(i));
  }
  // GenerateBatch: the first request computes the prefix, the others copy it.
  auto batch_ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 4, .max_batch = 8}, nullptr);
  ASSERT_TRUE(batch_ctx.ok());
  std::vector<GenerateRequest> requests;
  for (size_t i = 0; i < prompts_.size(); ++i) requests.push_back({prompts_[i], options[i]});
  auto together = GenerateBatch(**batch_ctx, requests);
  ASSERT_TRUE(together.ok()) << together.status();
  for (size_t i = 0; i < prompts_.size(); ++i) {
    EXPECT_EQ((*together)[i].cached_prompt_tokens, i == 0 ? 0 : p) << i;
    ExpectSameTokens((*together)[i], alone[i], 1e-4f, "batched prompt " + std::to_string(i));
  }
}

TEST_F(PrefixStoriesTest, PrefixEqualToOrLongerThanThePromptKeepsTheLastTokenComputed) {
  const int64_t p = static_cast<int64_t>(prefix_.size());
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8}, nullptr);
  ASSERT_TRUE(ctx.ok());
  auto plain = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8, .prefix_cache_entries = 0}, nullptr);
  ASSERT_TRUE(plain.ok());
  auto want_prefix = Generate(**plain, 0, prefix_, Greedy(0));
  auto want_prompt = Generate(**plain, 0, prompts_[0], Greedy(0));
  ASSERT_TRUE(want_prefix.ok() && want_prompt.ok());
  // The prompt is the prefix: its last token is prefilled, the rest cached.
  auto r = Generate(**ctx, 0, prefix_, Greedy(p));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cached_prompt_tokens, 0);
  ExpectSameTokens(*r, *want_prefix, 1e-4f, "prompt == prefix, cold");
  r = Generate(**ctx, 0, prefix_, Greedy(p));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cached_prompt_tokens, p - 1);
  ExpectSameTokens(*r, *want_prefix, 1e-4f, "prompt == prefix, warm");
  // A longer prompt reuses those p - 1 positions, computes one and caches all p.
  r = Generate(**ctx, 0, prompts_[0], Greedy(p));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cached_prompt_tokens, p - 1);
  ExpectSameTokens(*r, *want_prompt, 1e-4f, "after prompt == prefix");
  r = Generate(**ctx, 0, prompts_[0], Greedy(p));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cached_prompt_tokens, p);
  // A claimed prefix longer than the prompt or the context is clipped: the
  // cache is keyed by the ids, so it is never wrong, only less useful.
  for (int64_t claimed : {p + 3, int64_t{1000}}) {
    r = Generate(**ctx, 0, prefix_, Greedy(claimed));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cached_prompt_tokens, p - 1);
    ExpectSameTokens(*r, *want_prefix, 1e-4f, "claimed " + std::to_string(claimed));
  }
  // Too long a prompt is still refused; a one-token prompt has nothing to reuse.
  EXPECT_EQ(Generate(**ctx, 0, std::vector<TokenId>(129, 5), Greedy(50)).status().code(),
            absl::StatusCode::kOutOfRange);
  r = Generate(**ctx, 0, std::span(prefix_).first(1), Greedy(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cached_prompt_tokens, 0);
}

TEST_F(PrefixStoriesTest, ADifferentPrefixReplacesTheCachedOne) {
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8, .prefix_cache_entries = 1}, nullptr);
  ASSERT_TRUE(ctx.ok());
  const std::vector<TokenId> other = model_->tokenizer().Encode("The sun was hot and the sky was blue. Tom went", {.add_special = true});
  const std::vector<TokenId> other_prompt = Concat(other, std::span(prompts_[1]).subspan(prefix_.size()));
  const int64_t p = static_cast<int64_t>(prefix_.size()), q = static_cast<int64_t>(other.size());
  auto run = [&](std::span<const TokenId> prompt, int64_t shared) {
    auto r = Generate(**ctx, 0, prompt, Greedy(shared, 4));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->cached_prompt_tokens : -1;
  };
  EXPECT_EQ(run(prompts_[0], p), 0);
  EXPECT_EQ(run(prompts_[1], p), p);
  EXPECT_EQ(run(other_prompt, q), 1);  // only BOS in common; now `other` is the cached prefix
  EXPECT_EQ(run(other_prompt, q), q);
  EXPECT_EQ(run(prompts_[2], p), 1);
  EXPECT_EQ(run(prompts_[3], p), p);
}

TEST_F(PrefixStoriesTest, CancellationStopsBeforeCachingAPartialPrefix) {
  const int64_t p = static_cast<int64_t>(prefix_.size());
  ASSERT_GT(p, 12);
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 4}, nullptr);
  ASSERT_TRUE(ctx.ok());
  std::atomic<bool> cancel{true};
  GenerateOptions o = Greedy(p);
  o.cancel = &cancel;
  auto r = Generate(**ctx, 0, prompts_[0], o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, StopReason::kCancelled);
  EXPECT_TRUE(r->tokens.empty());
  EXPECT_EQ((*ctx)->prefix_cache_bytes(), 0u);
  // With 8 leading ids cached, a cancelled request copies them and stops:
  // its own longer prefix is not cached.
  auto fill = PrefillSharedPrefix(**ctx, 0, prompts_[0], 8, nullptr);
  ASSERT_TRUE(fill.ok());
  EXPECT_EQ(fill->filled, 8);
  fill = PrefillSharedPrefix(**ctx, 0, prompts_[0], p, &cancel);
  ASSERT_TRUE(fill.ok());
  EXPECT_EQ(fill->filled, 8);
  EXPECT_EQ(fill->reused, 8);
  EXPECT_EQ((*ctx)->RestoreCachedPrefix(0, prefix_), 8);
  cancel = false;
  r = Generate(**ctx, 0, prompts_[0], o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cached_prompt_tokens, 8);
  EXPECT_EQ(PrefillSharedPrefix(**ctx, 3, prompts_[0], p, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing to share: an empty prompt or a negative count fill nothing.
  for (auto [prompt, shared] :
       {std::pair{std::span<const TokenId>(), p}, std::pair{std::span<const TokenId>(prompts_[0]), int64_t{-5}}}) {
    fill = PrefillSharedPrefix(**ctx, 0, prompt, shared, nullptr);
    ASSERT_TRUE(fill.ok());
    EXPECT_EQ(fill->filled, 0);
    EXPECT_EQ((*ctx)->sequence_length(0), 0);
  }
}

// The service's adapters hand GenerationCall::prefix_tokens to the cache.
TEST_F(PrefixStoriesTest, ServiceAdaptersPassThePromptPrefixOn) {
  const int64_t p = static_cast<int64_t>(prefix_.size());
  auto call_for = [&](size_t i, int64_t prefix_tokens) {
    GenerationCall call;
    call.prompt = prompts_[i];
    call.prefix_tokens = prefix_tokens;
    call.max_tokens = 12;
    return call;
  };
  auto plain = DecoderContext::Create(*model_, {.n_ctx = 128, .prefix_cache_entries = 0}, nullptr);
  ASSERT_TRUE(plain.ok());
  DecoderGenerator reference(**plain);
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128}, nullptr);
  ASSERT_TRUE(ctx.ok());
  {
    DecoderGenerator generator(**ctx);
    auto g = generator.Run(call_for(0, 0));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ((*ctx)->prefix_cache_bytes(), 0u);
    for (size_t i : {0, 1}) {
      g = generator.Run(call_for(i, p));
      auto want = reference.Run(call_for(i, p));
      ASSERT_TRUE(g.ok() && want.ok());
      EXPECT_EQ(g->text, want->text) << i;
    }
    EXPECT_GT((*ctx)->prefix_cache_bytes(), 0u);
  }
  auto ctx2 = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 2}, nullptr);
  ASSERT_TRUE(ctx2.ok());
  {
    auto scheduler = BatchScheduler::Start(**ctx2);
    ASSERT_TRUE(scheduler.ok());
    SchedulerGenerator generator(**scheduler);
    for (size_t i : {2, 3}) {
      auto g = generator.Run(call_for(i, p));
      auto want = reference.Run(call_for(i, p));
      ASSERT_TRUE(g.ok() && want.ok());
      EXPECT_EQ(g->text, want->text) << i;
    }
  }  // the scheduler has stopped: the context is ours again
  EXPECT_GT((*ctx2)->prefix_cache_bytes(), 0u);
}

}  // namespace
}  // namespace tinyrag
