// Sampler: greedy, the candidate filters, the repetition penalty, seeded
// reproducibility and sampled frequencies; log-probabilities.
#include "generate/sampler.h"

#include <cmath>
#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace tinyrag {
namespace {

SamplerOptions Plain(float temperature) {
  return {.temperature = temperature, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .repeat_penalty = 1.0f};
}

TEST(SamplerTest, GreedyTakesTheArgmax) {
  Sampler s(Plain(0));
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(s.Sample(logits, {}), 1);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplerOptions o = Plain(0);
  o.repeat_penalty = 2.0f;
  Sampler s(o);
  const std::vector<float> logits = {1.5f, 2.0f, -1.0f};
  const std::vector<TokenId> history = {1, 1};
  EXPECT_EQ(s.Sample(logits, history), 0);  // 2.0 / 2 = 1.0 < 1.5
  const std::vector<float> negative = {-1.5f, -1.0f};
  EXPECT_EQ(s.Sample(negative, std::vector<TokenId>{1}), 0);  // -1.0 * 2 = -2.0 < -1.5
}

TEST(SamplerTest, SameSeedSameTokensOtherSeedOtherTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(i * 0.7f);
  auto draw = [&](uint64_t seed) {
    SamplerOptions o = Plain(1.0f);
    o.seed = seed;
    Sampler s(o);
    std::vector<TokenId> out;
    for (int i = 0; i < 40; ++i) out.push_back(s.Sample(logits, {}));
    return out;
  };
  EXPECT_EQ(draw(5), draw(5));
  EXPECT_NE(draw(5), draw(6));
}

TEST(SamplerTest, FrequenciesFollowTheSoftmax) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s(Plain(1.0f));
  std::map<TokenId, int> count;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++count[s.Sample(logits, {})];
  EXPECT_NEAR(count[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(count[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(count[2] / double(n), 0.2, 0.02);
}

TEST(SamplerTest, TopKTopPAndMinPRestrictTheCandidates) {
  const std::vector<float> logits = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  auto seen = [&](SamplerOptions o) {
    Sampler s(o);
    std::map<TokenId, int> count;
    for (int i = 0; i < 4000; ++i) ++count[s.Sample(logits, {})];
    return count.size();
  };
  SamplerOptions k = Plain(1.0f);
  k.top_k = 2;
  EXPECT_EQ(seen(k), 2u);
  SamplerOptions p = Plain(1.0f);
  p.top_p = 0.65f;  // 0.4 + 0.3 reaches it
  EXPECT_EQ(seen(p), 2u);
  SamplerOptions m = Plain(1.0f);
  m.min_p = 0.45f;  // keeps >= 0.18: three tokens
  EXPECT_EQ(seen(m), 3u);
  EXPECT_EQ(seen(Plain(1.0f)), 4u);
}

TEST(SamplerTest, LowTemperatureConcentratesOnTheBest) {
  const std::vector<float> logits = {1.0f, 0.9f};
  Sampler s(Plain(0.01f));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.Sample(logits, {}), 0);
}

TEST(SamplerTest, LogProbsAndTopAlternatives) {
  const std::vector<float> logits = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  const TokenLogProbs lp = ComputeLogProbs(logits, 2, 2);
  EXPECT_NEAR(lp.logprob, std::log(0.3), 1e-6);
  ASSERT_EQ(lp.top.size(), 2u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_NEAR(lp.top[0].second, std::log(0.6), 1e-6);
  EXPECT_EQ(lp.top[1].first, 2);
  EXPECT_TRUE(std::isinf(ComputeLogProbs(logits, 7, 0).logprob));
  EXPECT_TRUE(ComputeLogProbs(logits, 0, 0).top.empty());
}

}  // namespace
}  // namespace tinyrag
