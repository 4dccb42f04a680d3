#include "generate/attention.h"

#include <algorithm>
#include <cmath>

#include "model/cpu_features.h"
#include "model/half.h"

namespace tinyrag::attention {

// scores[j][p] <- exp(scores[j][p] - max_j) / sum_j, per head j.
void SoftmaxRows(float* scores, int n_q, int64_t len) {
  for (int j = 0; j < n_q; ++j) {
    float* s = scores + j * len;
    const float m = *std::max_element(s, s + len);
    double sum = 0;
    for (int64_t p = 0; p < len; ++p) sum += (s[p] = std::exp(s[p] - m));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t p = 0; p < len; ++p) s[p] *= inv;
  }
}

void AttendScalar(const Args& a) {
  const int64_t hd = a.head_dim;
  auto load = [&](const void* base, int64_t p, int64_t i) {
    return a.f16 ? F16ToF32(static_cast<const uint16_t*>(base)[p * a.stride + i])
                 : static_cast<const float*>(base)[p * a.stride + i];
  };
  for (int j = 0; j < a.n_q; ++j) {
    const float* q = a.q + j * hd;
    for (int64_t p = 0; p < a.len; ++p) {
      float dot = 0;
      for (int64_t i = 0; i < hd; ++i) dot += q[i] * load(a.k, p, i);
      a.scores[j * a.len + p] = dot * a.scale;
    }
  }
  SoftmaxRows(a.scores, a.n_q, a.len);
  std::fill_n(a.out, a.n_q * hd, 0.0f);
  for (int64_t p = 0; p < a.len; ++p) {
    for (int64_t i = 0; i < hd; ++i) {
      const float v = load(a.v, p, i);
      for (int j = 0; j < a.n_q; ++j) a.out[j * hd + i] += a.scores[j * a.len + p] * v;
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
