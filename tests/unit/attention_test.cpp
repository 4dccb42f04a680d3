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

// A block of n_rows consecutive query rows whose first row sees `len`
// positions, against the portable path.
void Compare(bool f16, int n_rows, int n_q, int64_t hd, int64_t len) {
  std::mt19937 rng(5);
  std::normal_distribution<float> z;
  const int64_t stride = hd * 3;  // other KV heads between positions
  const int64_t max_len = len + n_rows - 1;
  const int64_t q_stride = n_q * hd + 16;  // rows are further apart than their heads
  std::vector<float> q(n_rows * q_stride), k32(max_len * stride), v32(max_len * stride);
  for (float& x : q) x = z(rng);
  for (float& x : k32) x = z(rng);
  for (float& x : v32) x = z(rng);
  std::vector<uint16_t> k16(k32.size()), v16(v32.size());
  for (size_t i = 0; i < k32.size(); ++i) k16[i] = F32ToF16(k32[i]), v16[i] = F32ToF16(v32[i]);
  const int64_t scratch = ScratchFloats(n_rows, n_q, max_len, hd);
  std::vector<float> s1(scratch), s2(scratch), o1(n_rows * q_stride), o2(n_rows * q_stride);
  Args a{.q = q.data(), .q_stride = q_stride, .n_rows = n_rows, .n_q = n_q, .head_dim = hd,
         .k = f16 ? static_cast<const void*>(k16.data()) : k32.data(),
         .v = f16 ? static_cast<const void*>(v16.data()) : v32.data(),
         .f16 = f16, .stride = stride, .len = len, .scale = 1.0f / std::sqrt(float(hd)),
         .scratch = s1.data(), .out = o1.data(), .out_stride = q_stride};
  AttendScalar(a);
  Args b = a;
  b.scratch = s2.data();
  b.out = o2.data();
  AttendAvx2(b);
  for (int r = 0; r < n_rows; ++r) {
    for (int64_t i = 0; i < n_q * hd; ++i) {
      ASSERT_NEAR(o1[r * q_stride + i], o2[r * q_stride + i], 1e-4f) << "row " << r << " value " << i;
    }
    // Each head's weights over its len + r positions sum to one.
    for (int j = 0; j < n_q; ++j) {
      const float* w = Weights(b, r, j);
      double sum = 0;
      for (int64_t p = 0; p < len + r; ++p) sum += w[p];
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r << " head " << j;
    }
  }
}

// Causality: a block row's output does not depend on keys/values past its position.
TEST(AttentionTest, RowsIgnoreLaterPositions) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  const int n_rows = 5, n_q = 3;
  const int64_t hd = 16, len = 9, max_len = len + n_rows - 1;
  std::mt19937 rng(8);
  std::normal_distribution<float> z;
  std::vector<float> q(n_rows * n_q * hd), k(max_len * hd), v(max_len * hd);
  for (float& x : q) x = z(rng);
  for (float& x : k) x = z(rng);
  for (float& x : v) x = z(rng);
  std::vector<float> scratch(ScratchFloats(n_rows, n_q, max_len, hd)), block(q.size()), single(n_q * hd);
  Args a{.q = q.data(), .q_stride = n_q * hd, .n_rows = n_rows, .n_q = n_q, .head_dim = hd,
         .k = k.data(), .v = v.data(), .f16 = false, .stride = hd, .len = len, .scale = 0.25f,
         .scratch = scratch.data(), .out = block.data(), .out_stride = n_q * hd};
  AttendAvx2(a);
  for (int r = 0; r < n_rows; ++r) {
    // The same row alone, with every later key and value scrambled.
    std::vector<float> k2 = k, v2 = v;
    for (int64_t p = len + r; p < max_len; ++p) {
      for (int64_t i = 0; i < hd; ++i) k2[p * hd + i] = 100.0f, v2[p * hd + i] = -100.0f;
    }
    Args one = a;
    one.q = q.data() + r * n_q * hd;
    one.n_rows = 1;
    one.len = len + r;
    one.k = k2.data();
    one.v = v2.data();
    one.out = single.data();
    AttendAvx2(one);
    for (int64_t i = 0; i < n_q * hd; ++i) ASSERT_FLOAT_EQ(block[r * n_q * hd + i], single[i]) << r << "," << i;
  }
}

TEST(AttentionTest, Avx2MatchesScalar) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  for (bool f16 : {true, false}) {
    Compare(f16, 1, 1, 64, 1);
    Compare(f16, 1, 7, 64, 300);
    Compare(f16, 8, 7, 64, 1);    // a prompt's first block
    Compare(f16, 5, 7, 64, 123);  // a later block, odd sizes
    Compare(f16, 3, 2, 8, 17);
    Compare(f16, 2, 3, 512, 9);   // large heads
    Compare(f16, 4, 1, 40, 30);   // head size not a multiple of 32
  }
}

}  // namespace
}  // namespace tinyrag::attention
