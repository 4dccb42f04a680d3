// Logistic calibration: recovering known weights from synthetic labelled
// features (fixed seed), determinism, and clear errors for degenerate input.
#include "service/calibrate.h"

#include <cmath>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinyrag {
namespace {

using ::testing::HasSubstr;

// Features of very different scales, as the real ones are.
constexpr std::array<double, ConfidenceFeatures::kCount> kScale = {0.01, 0.3, 5, 0.005, 1, 3, 0.4, 0.3, 0.3};
constexpr std::array<double, ConfidenceFeatures::kCount> kMean = {0.02, 0.5, 8, 0.004, -1, -5, 0, 0.5, 0.5};
// True weights in standardized units (effect of one standard deviation).
constexpr std::array<double, ConfidenceFeatures::kCount> kStdWeights = {1.0, 0.8, 0.5, -0.3, 1.2, 0.4, -1.5, 0.7, 0.0};

struct Synthetic {
  std::vector<ConfidenceFeatures> features;
  std::vector<int> labels;
  ConfidenceModel truth;
};

Synthetic Generate(size_t n, uint64_t seed) {
  Synthetic s;
  for (size_t j = 0; j < kScale.size(); ++j) {
    s.truth.weights[j] = kStdWeights[j] / kScale[j];
    s.truth.bias -= s.truth.weights[j] * kMean[j];
  }
  s.truth.bias += 0.3;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  for (size_t i = 0; i < n; ++i) {
    std::array<double, ConfidenceFeatures::kCount> v;
    for (size_t j = 0; j < v.size(); ++j) v[j] = kMean[j] + kScale[j] * normal(rng);
    const ConfidenceFeatures f = ConfidenceFeatures::FromArray(v);
    s.labels.push_back(uniform(rng) < s.truth.Score(f).confidence ? 1 : 0);
    s.features.push_back(f);
  }
  return s;
}

TEST(CalibrateTest, RecoversKnownWeights) {
  const Synthetic s = Generate(20000, 42);
  auto m = CalibrateConfidence(s.features, s.labels, {.l2 = 1e-6});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->note, HasSubstr("20000 examples"));
  for (size_t j = 0; j < kScale.size(); ++j) {
    // Compared in standardized units, where the sampling error is ~0.02.
    EXPECT_NEAR(m->weights[j] * kScale[j], kStdWeights[j], 0.1) << kConfidenceFeatureNames[j];
  }
  // The fitted model predicts like the true one.
  double worst = 0;
  for (size_t i = 0; i < 1000; ++i) {
    worst = std::max(worst, std::abs(m->Score(s.features[i]).confidence - s.truth.Score(s.features[i]).confidence));
  }
  EXPECT_LT(worst, 0.08);
}

TEST(CalibrateTest, DeterministicAndPenaltyShrinks) {
  const Synthetic s = Generate(3000, 7);
  auto a = CalibrateConfidence(s.features, s.labels, {.l2 = 1e-4});
  auto b = CalibrateConfidence(s.features, s.labels, {.l2 = 1e-4});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->weights, b->weights);
  EXPECT_EQ(a->bias, b->bias);
  auto strong = CalibrateConfidence(s.features, s.labels, {.l2 = 10});
  ASSERT_TRUE(strong.ok());
  double sa = 0, ss = 0;
  for (size_t j = 0; j < kScale.size(); ++j) {
    sa += std::abs(a->weights[j] * kScale[j]);
    ss += std::abs(strong->weights[j] * kScale[j]);
  }
  EXPECT_LT(ss, sa / 5);
}

TEST(CalibrateTest, ConstantFeatureGetsZeroAndSeparableDataStaysFinite) {
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int i = 0; i < 200; ++i) {
    x.push_back({static_cast<double>(i), 3.0});
    y.push_back(i >= 100 ? 1 : 0);  // perfectly separable by feature 0
  }
  auto fit = FitLogistic(x, y, {.l2 = 0});
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->weights[1], 0.0);
  EXPECT_GT(fit->weights[0], 0.0);
  EXPECT_TRUE(std::isfinite(fit->bias));
  EXPECT_LT(fit->log_loss, 0.05);
}

TEST(CalibrateTest, DegenerateInputsAreClearErrors) {
  auto message = [](std::span<const std::vector<double>> x, std::span<const int> y) {
    auto r = FitLogistic(x, y);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  EXPECT_THAT(message({}, {}), HasSubstr("no examples"));
  const std::vector<std::vector<double>> x = {{1, 2}, {3, 4}, {5, 6}};
  EXPECT_THAT(message(x, std::vector<int>{1, 1, 1}), HasSubstr("all 3 examples are labelled 1"));
  EXPECT_THAT(message(x, std::vector<int>{0, 0, 0}), HasSubstr("all 3 examples are labelled 0"));
  EXPECT_THAT(message(x, std::vector<int>{0, 1}), HasSubstr("3 examples but 2 labels"));
  EXPECT_THAT(message(x, std::vector<int>{0, 1, 2}), HasSubstr("label 2"));
  EXPECT_THAT(message(std::vector<std::vector<double>>{{1, 2}, {3}}, std::vector<int>{0, 1}),
              HasSubstr("example 1 has 1 features"));
  const std::vector<std::vector<double>> nan = {{1, 2}, {3, std::numeric_limits<double>::quiet_NaN()}};
  EXPECT_THAT(message(nan, std::vector<int>{0, 1}), HasSubstr("example 1 feature 1"));
  std::vector<ConfidenceFeatures> f(2);
  f[1].min_logprob = -std::numeric_limits<double>::infinity();
  auto c = CalibrateConfidence(f, std::vector<int>{0, 1});
  EXPECT_THAT(c.status().message(), HasSubstr("feature min_logprob"));
}

}  // namespace
}  // namespace tinyrag
