// The encoder's GEMM, attention and elementwise ops against plain double
// precision references, on the active CPU level and the portable one.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "embed/attention.h"
#include "embed/gemm.h"
#include "embed/ops.h"
#include "model/thread_pool.h"

namespace tinyrag::embed {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(EncoderOpsTest, PackedMatMulMatchesReference) {
  ThreadPool pool(2);
  // Rows not a multiple of 16 and token counts not a multiple of the tile.
  for (auto [rows, cols, n] : {std::tuple{40, 24, 13}, std::tuple{16, 8, 1}, std::tuple{384, 64, 53}}) {
    const auto w = Random(static_cast<size_t>(rows * cols), 1);
    const auto x = Random(static_cast<size_t>(n * cols), 2);
    const auto bias = Random(static_cast<size_t>(rows), 3);
    auto packed = PackWeights(DenseWeights(GgmlType::kF32, rows, cols, w.data()));
    ASSERT_TRUE(packed.ok()) << packed.status();
    std::vector<float> y(static_cast<size_t>(n * rows), -7.0f);
    PackedMatMul(*packed, x.data(), n, y.data(), bias.data(), &pool);
    for (int i = 0; i < n; ++i) {
      for (int r = 0; r < rows; ++r) {
        double ref = bias[r];
        for (int c = 0; c < cols; ++c) ref += double(x[i * cols + c]) * w[r * cols + c];
        ASSERT_NEAR(y[i * rows + r], ref, 1e-4) << rows << "x" << cols << " n=" << n << " at " << i << "," << r;
      }
    }
  }
}

TEST(EncoderOpsTest, AttentionMatchesReference) {
  for (auto [n, d] : {std::pair{1, 32}, std::pair{7, 16}, std::pair{37, 24}}) {
    const int stride = 3 * d;  // rows wider than one head, as in the model
    const auto q = Random(static_cast<size_t>(n * stride), 4), k = Random(static_cast<size_t>(n * stride), 5),
               v = Random(static_cast<size_t>(n * stride), 6);
    std::vector<float> out(static_cast<size_t>(n * stride), 9.0f);
    std::vector<float> scratch(static_cast<size_t>(AttentionScratchSize(n, d)));
    const float scale = 1.0f / std::sqrt(float(d));
    Attention(q.data(), k.data(), v.data(), stride, d, n, scale, out.data(), scratch.data());
    for (int i = 0; i < n; ++i) {
      std::vector<double> s(n);
      double mx = -1e300, sum = 0;
      for (int j = 0; j < n; ++j) {
        for (int t = 0; t < d; ++t) s[j] += double(q[i * stride + t]) * k[j * stride + t] * scale;
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int t = 0; t < d; ++t) {
        double ref = 0;
        for (int j = 0; j < n; ++j) ref += s[j] / sum * v[j * stride + t];
        ASSERT_NEAR(out[i * stride + t], ref, 1e-5) << "n=" << n << " d=" << d;
      }
      EXPECT_EQ(out[i * stride + d], 9.0f);  // other heads' columns untouched
    }
  }
}

TEST(EncoderOpsTest, ElementwiseOpsOnBothLevels) {
  for (const EncoderOps* ops : {&ActiveOps(), &BaselineOps()}) {
    auto x = Random(3 * 40, 7);
    for (float& v : x) v *= 4.0f;  // GELU over [-12, 12] or so
    auto g = x;
    ops->gelu(g.data(), 3, 40);
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
      ASSERT_NEAR(g[i], ref, 1e-6 + 1e-6 * std::fabs(ref)) << x[i];
    }
    auto ln = x;
    const auto r = Random(3 * 40, 8), w = Random(40, 9), b = Random(40, 10);
    ops->add_layer_norm(ln.data(), r.data(), 3, 40, w.data(), b.data(), 1e-12f);
    for (int i = 0; i < 3; ++i) {
      double mean = 0, var = 0;
      for (int j = 0; j < 40; ++j) mean += double(x[i * 40 + j]) + r[i * 40 + j];
      mean /= 40;
      for (int j = 0; j < 40; ++j) var += std::pow(double(x[i * 40 + j]) + r[i * 40 + j] - mean, 2);
      var /= 40;
      for (int j = 0; j < 40; ++j) {
        const double ref = (double(x[i * 40 + j]) + r[i * 40 + j] - mean) / std::sqrt(var) * w[j] + b[j];
        ASSERT_NEAR(ln[i * 40 + j], ref, 1e-4);
      }
    }
    std::vector<float> s = {1.0f, 2.0f, -50.0f, 5.0f, 5.0f};
    ops->softmax(s.data(), 1, 3, 5, 2.0f);
    const double z = std::exp(2.0) + std::exp(4.0) + std::exp(-100.0);
    EXPECT_NEAR(s[0], std::exp(2.0) / z, 1e-6);
    EXPECT_NEAR(s[1], std::exp(4.0) / z, 1e-6);
    EXPECT_EQ(s[3], 0.0f);  // padding columns cleared
    EXPECT_EQ(s[4], 0.0f);
  }
}

}  // namespace
}  // namespace tinyrag::embed
