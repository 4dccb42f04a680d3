#include "generate/attention.h"

#include <algorithm>
#include <cmath>

#include "generate/vector_math.h"
#include "model/cpu_features.h"
#include "model/half.h"

namespace tinyrag::attention {
namespace {

// Positions rounded up to the 8-wide steps of the SIMD path.
int64_t Padded(int64_t len) { return (len + 7) / 8 * 8; }

}  // namespace

// Scratch layout: scores [n_rows * n_q][Padded(max_len)], then (SIMD path)
// keys transposed in blocks of 8 positions [Padded(max_len) / 8][head_dim][8]
// and values [Padded(max_len)][head_dim], both converted to f32.
int64_t ScratchFloats(int n_rows, int n_q, int64_t max_len, int64_t head_dim) {
  const int64_t l8 = Padded(max_len);
  return static_cast<int64_t>(n_rows) * n_q * l8 + 2 * l8 * head_dim;
}

const float* Weights(const Args& a, int row, int head) {
  const int64_t l8 = Padded(a.len + a.n_rows - 1);
  return a.scratch + (static_cast<int64_t>(row) * a.n_q + head) * l8;
}

void AttendScalar(const Args& a) {
  const int64_t hd = a.head_dim;
  auto load = [&](const void* base, int64_t p, int64_t i) {
    return a.f16 ? F16ToF32(static_cast<const uint16_t*>(base)[p * a.stride + i])
                 : static_cast<const float*>(base)[p * a.stride + i];
  };
  for (int r = 0; r < a.n_rows; ++r) {
    const int64_t len = a.len + r;
    for (int j = 0; j < a.n_q; ++j) {
      const float* q = a.q + r * a.q_stride + j * hd;
      float* s = const_cast<float*>(Weights(a, r, j));
      for (int64_t p = 0; p < len; ++p) {
        float dot = 0;
        for (int64_t i = 0; i < hd; ++i) dot += q[i] * load(a.k, p, i);
        s[p] = dot * a.scale;
      }
      vmath::SoftmaxScalar(s, len);
      float* o = a.out + r * a.out_stride + j * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t p = 0; p < len; ++p) {
        for (int64_t i = 0; i < hd; ++i) o[i] += s[p] * load(a.v, p, i);
      }
    }
  }
}

void Attend(const Args& a) {
  static const bool avx2 = ActiveCpuLevel() >= CpuLevel::kAvx2;
  if (avx2 && a.head_dim % 8 == 0) {
    AttendAvx2(a);
  } else {
    AttendScalar(a);
  }
}

}  // namespace tinyrag::attention
