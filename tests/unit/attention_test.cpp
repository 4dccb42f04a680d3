// The AVX2 attention kernel against the portable one, f16 and f32 caches,
// grouped heads, head sizes above the kernel's chunk.
#include "generate/attention.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/cpu_features.h"
#include "model/half.h"

namespace tinyrag::attention {
namespace {

void Compare(bool f16, int n_q, int64_t hd, int64_t len) {
  std::mt19937 rng(5);
  std::normal_distribution<float> z;
  const int64_t stride = hd * 3;  // other KV heads between positions
  std::vector<float> q(n_q * hd), k32(len * stride), v32(len * stride);
  for (float& x : q) x = z(rng);
  for (float& x : k32) x = z(rng);
  for (float& x : v32) x = z(rng);
  std::vector<uint16_t> k16(k32.size()), v16(v32.size());
  for (size_t i = 0; i < k32.size(); ++i) k16[i] = F32ToF16(k32[i]), v16[i] = F32ToF16(v32[i]);
  std::vector<float> s1(n_q * len), s2(n_q * len), o1(n_q * hd), o2(n_q * hd);
  Args a{.q = q.data(), .n_q = n_q, .head_dim = hd,
         .k = f16 ? static_cast<const void*>(k16.data()) : k32.data(),
         .v = f16 ? static_cast<const void*>(v16.data()) : v32.data(),
         .f16 = f16, .stride = stride, .len = len, .scale = 1.0f / std::sqrt(float(hd)),
         .scores = s1.data(), .out = o1.data()};
  AttendScalar(a);
  a.scores = s2.data();
  a.out = o2.data();
  AttendAvx2(a);
  for (size_t i = 0; i < o1.size(); ++i) ASSERT_NEAR(o1[i], o2[i], 1e-4f) << i;
  // The weights sum to one: the output is a convex mix of value rows.
  double sum = 0;
  for (int64_t p = 0; p < len; ++p) sum += s2[p];
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(AttentionTest, Avx2MatchesScalar) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  for (bool f16 : {true, false}) {
    Compare(f16, 1, 64, 1);
    Compare(f16, 7, 64, 300);
    Compare(f16, 2, 8, 17);
    Compare(f16, 3, 512, 9);  // head larger than one chunk
  }
}

}  // namespace
}  // namespace tinyrag::attention
