#include "embed/attention.h"

#include <algorithm>

#include "embed/gemm.h"
#include "embed/ops.h"

namespace tinyrag::embed {
namespace {

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

}  // namespace

int64_t AttentionScratchSize(int64_t n, int64_t d) {
  const int64_t n_pad = RoundUp(n, kPanel), d_pad = RoundUp(d, kPanel);
  return n_pad * d      // K packed: [n_pad / 16][d][16]
         + n * n_pad    // scores / probabilities: [n][n_pad]
         + d_pad * n_pad  // V packed: [d_pad / 16][n_pad][16]
         + kPanel;      // zero bias
}

void Attention(const float* q, const float* k, const float* v, int64_t stride, int64_t d, int64_t n, float scale,
               float* out, float* scratch) {
  const PanelKernel kernel = ActivePanelKernel();
  const int64_t n_pad = RoundUp(n, kPanel), d_pad = RoundUp(d, kPanel);
  float* kp = scratch;
  float* s = kp + n_pad * d;
  float* vp = s + n * n_pad;
  float* zero = vp + d_pad * n_pad;
  std::fill(zero, zero + kPanel, 0.0f);

  // K as panels of 16 keys: kp[p][t][jj] = k[p * 16 + jj][t] (0 past n).
  for (int64_t p = 0; p < n_pad / kPanel; ++p) {
    float* panel = kp + p * d * kPanel;
    for (int64_t jj = 0; jj < kPanel; ++jj) {
      const int64_t j = p * kPanel + jj;
      for (int64_t t = 0; t < d; ++t) panel[t * kPanel + jj] = j < n ? k[j * stride + t] : 0.0f;
    }
  }
  // Scores S = Q K^T: [n][n_pad].
  for (int64_t i = 0; i < n; i += kernel.rows) {
    const int m = static_cast<int>(std::min<int64_t>(kernel.rows, n - i));
    for (int64_t p = 0; p < n_pad / kPanel; ++p) {
      kernel.fn(kp + p * d * kPanel, q + i * stride, stride, d, m, s + i * n_pad + p * kPanel, n_pad, zero, kPanel);
    }
  }
  ActiveOps().softmax(s, n, n, n_pad, scale);  // columns [n, n_pad) become 0

  // V as panels of 16 output columns: vp[p][j][c] = v[j][p * 16 + c] (0 past n or d).
  for (int64_t p = 0; p < d_pad / kPanel; ++p) {
    float* panel = vp + p * n_pad * kPanel;
    const int64_t width = std::min(kPanel, d - p * kPanel);
    for (int64_t j = 0; j < n_pad; ++j) {
      float* dst = panel + j * kPanel;
      if (j < n) std::copy(v + j * stride + p * kPanel, v + j * stride + p * kPanel + width, dst);
      std::fill(dst + (j < n ? width : 0), dst + kPanel, 0.0f);
    }
  }
  // out = P V: [n][d].
  for (int64_t i = 0; i < n; i += kernel.rows) {
    const int m = static_cast<int>(std::min<int64_t>(kernel.rows, n - i));
    for (int64_t p = 0; p < d_pad / kPanel; ++p) {
      kernel.fn(vp + p * n_pad * kPanel, s + i * n_pad, n_pad, n_pad, m, out + i * stride + p * kPanel, stride, zero,
             static_cast<int>(std::min(kPanel, d - p * kPanel)));
    }
  }
}

}  // namespace tinyrag::embed
