// The AVX2 exp-based functions against the std::exp versions.
#include "generate/vector_math.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/cpu_features.h"

namespace tinyrag::vmath {
namespace {

// Within `ulps` float ulps of `want` (relative), exact for zeros and infinities.
void ExpectClose(float want, float got, float ulps, const char* what, int64_t i) {
  if (std::isinf(want) || want == 0.0f) {
    ASSERT_EQ(want, got) << what << " at " << i;
    return;
  }
  ASSERT_NEAR(want, got, ulps * std::numeric_limits<float>::epsilon() * std::fabs(want))
      << what << " at " << i;
}

TEST(VectorMathTest, SiluMulMatchesStdExp) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  std::vector<float> x = {0.0f, -0.0f, 1e-6f, -1e-6f, 0.5f, -0.5f, 3.0f, -3.0f, 20.0f, -20.0f,
                          87.0f, -87.0f, 88.5f, -88.5f, 89.0f, -89.0f, 150.0f, -150.0f, 1e30f, -1e30f};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int i = 0; i < 5000; ++i) x.push_back(i % 2 ? wide(rng) : normal(rng));
  x.push_back(0.25f);  // n % 8 != 0: the tail path
  std::vector<float> y(x.size());
  for (float& v : y) v = normal(rng);
  std::vector<float> want = x, got = x;
  SiluMulScalar(want.data(), y.data(), static_cast<int64_t>(want.size()));
  SiluMulAvx2(got.data(), y.data(), static_cast<int64_t>(got.size()));
  for (size_t i = 0; i < x.size(); ++i) ExpectClose(want[i], got[i], 4, "silu", static_cast<int64_t>(i));
}

TEST(VectorMathTest, SoftmaxMatchesStdExpAndSumsToOne) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 6.0f);
  for (int64_t n : {1, 7, 8, 9, 100, 1023}) {
    std::vector<float> s(n);
    for (float& v : s) v = normal(rng);
    if (n > 3) s[2] = -1e30f;  // a weight that underflows to exactly 0
    std::vector<float> want = s, got = s;
    SoftmaxScalar(want.data(), n);
    SoftmaxAvx2(got.data(), n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += got[i];
      // Tiny weights carry the error of the large ones' sum: compare absolutely too.
      ASSERT_NEAR(want[i], got[i], 1e-6f * std::fabs(want[i]) + 1e-9f) << "n=" << n << " i=" << i;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << n;
  }
}

}  // namespace
}  // namespace tinyrag::vmath
