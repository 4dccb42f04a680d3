// AVX2+FMA micro-kernel: a 6 x 16 tile in 12 ymm accumulators; per step of
// k, two panel loads and six broadcasts feed twelve FMAs.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "embed/gemm.h"

namespace tinyrag::embed {

void PanelKernelAvx2(const float* panel, const float* x, int64_t ldx, int64_t cols, int m, float* y, int64_t ldy,
                     const float* bias, int valid) {
  const float* x0 = x;
  const float* x1 = x + std::min(1, m - 1) * ldx;
  const float* x2 = x + std::min(2, m - 1) * ldx;
  const float* x3 = x + std::min(3, m - 1) * ldx;
  const float* x4 = x + std::min(4, m - 1) * ldx;
  const float* x5 = x + std::min(5, m - 1) * ldx;
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
  __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(), a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
  __m256 a40 = _mm256_setzero_ps(), a41 = _mm256_setzero_ps(), a50 = _mm256_setzero_ps(), a51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < cols; ++k) {
    const __m256 w0 = _mm256_loadu_ps(panel + k * kPanel);
    const __m256 w1 = _mm256_loadu_ps(panel + k * kPanel + 8);
    __m256 b = _mm256_broadcast_ss(x0 + k);
    a00 = _mm256_fmadd_ps(b, w0, a00);
    a01 = _mm256_fmadd_ps(b, w1, a01);
    b = _mm256_broadcast_ss(x1 + k);
    a10 = _mm256_fmadd_ps(b, w0, a10);
    a11 = _mm256_fmadd_ps(b, w1, a11);
    b = _mm256_broadcast_ss(x2 + k);
    a20 = _mm256_fmadd_ps(b, w0, a20);
    a21 = _mm256_fmadd_ps(b, w1, a21);
    b = _mm256_broadcast_ss(x3 + k);
    a30 = _mm256_fmadd_ps(b, w0, a30);
    a31 = _mm256_fmadd_ps(b, w1, a31);
    b = _mm256_broadcast_ss(x4 + k);
    a40 = _mm256_fmadd_ps(b, w0, a40);
    a41 = _mm256_fmadd_ps(b, w1, a41);
    b = _mm256_broadcast_ss(x5 + k);
    a50 = _mm256_fmadd_ps(b, w0, a50);
    a51 = _mm256_fmadd_ps(b, w1, a51);
  }
  // The last panel of a matrix whose rows are not a multiple of 16 has a
  // shorter bias: pad it rather than read past its end.
  alignas(32) float bias_pad[kPanel] = {};
  const float* bp = bias;
  if (valid < kPanel) {
    std::copy(bias, bias + valid, bias_pad);
    bp = bias_pad;
  }
  const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
  const __m256 acc[6][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (int i = 0; i < m; ++i) {
    float* out = y + i * ldy;
    const __m256 r0 = _mm256_add_ps(acc[i][0], b0), r1 = _mm256_add_ps(acc[i][1], b1);
    if (valid == kPanel) {
      _mm256_storeu_ps(out, r0);
      _mm256_storeu_ps(out + 8, r1);
    } else {
      alignas(32) float tmp[kPanel];
      _mm256_store_ps(tmp, r0);
      _mm256_store_ps(tmp + 8, r1);
      std::copy(tmp, tmp + valid, out);
    }
  }
}

}  // namespace tinyrag::embed
