// AVX2 attention: each cached key/value row is converted from f16 once and
// used for every query head of its group (8 lanes per step, FMA).
#include <immintrin.h>

#include <algorithm>

#include "generate/attention.h"

namespace tinyrag::attention {

void SoftmaxRows(float* scores, int n_q, int64_t len);  // attention.cpp

namespace {

inline __m256 Load8(const void* base, bool f16, int64_t at) {
  if (f16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + at)));
  }
  return _mm256_loadu_ps(static_cast<const float*>(base) + at);
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

constexpr int kMaxHeadDim = 256;  // larger heads take the chunked path below

}  // namespace

void AttendAvx2(const Args& a) {
  const int64_t hd = a.head_dim;
  alignas(32) float row[kMaxHeadDim];
  // Scores: q_j . k_p for every head j of the group, converting k_p once.
  for (int64_t p = 0; p < a.len; ++p) {
    for (int64_t c0 = 0; c0 < hd; c0 += kMaxHeadDim) {
      const int64_t cn = std::min<int64_t>(kMaxHeadDim, hd - c0);
      for (int64_t i = 0; i < cn; i += 8) _mm256_store_ps(row + i, Load8(a.k, a.f16, p * a.stride + c0 + i));
      for (int j = 0; j < a.n_q; ++j) {
        const float* q = a.q + j * hd + c0;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < cn; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_load_ps(row + i), acc);
        const float dot = HorizontalSum(acc);
        a.scores[j * a.len + p] = c0 == 0 ? dot : a.scores[j * a.len + p] + dot;
      }
    }
    for (int j = 0; j < a.n_q; ++j) a.scores[j * a.len + p] *= a.scale;
  }
  SoftmaxRows(a.scores, a.n_q, a.len);
  // Output: out_j += w_jp * v_p, converting v_p once per position.
  std::fill_n(a.out, a.n_q * hd, 0.0f);
  for (int64_t p = 0; p < a.len; ++p) {
    for (int64_t i = 0; i < hd; i += 8) {
      const __m256 v = Load8(a.v, a.f16, p * a.stride + i);
      for (int j = 0; j < a.n_q; ++j) {
        float* o = a.out + j * hd + i;
        _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_set1_ps(a.scores[j * a.len + p]), v, _mm256_loadu_ps(o)));
      }
    }
  }
}

}  // namespace tinyrag::attention
