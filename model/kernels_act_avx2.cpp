// AVX2 activation quantization, bit-identical to model/activation_quant.cpp
// (same maxima, the same float multiplier, round-half-even, same fp16
// rounding of the scale): a matvec quantizes its activation row on the
// critical path, so this is worth vectorizing.
#include <immintrin.h>

#include <cstdint>

#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"

namespace tinyrag::kernels {
namespace {

inline float RoundThroughHalf(float v) {
  return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

inline float HmaxF32(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline __m256 Abs(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// Rounds 32 floats (times `mul`) half-to-even into 32 int8, in order.
inline __m256i RoundToBytes(const float* x, __m256 mul) {
  __m256i i[4];
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), mul),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    i[k] = _mm256_cvtps_epi32(v);
  }
  const __m256i p01 = _mm256_packs_epi32(i[0], i[1]);
  const __m256i p23 = _mm256_packs_epi32(i[2], i[3]);
  const __m256i b = _mm256_packs_epi16(p01, p23);
  // The packs work per 128-bit lane: restore the order of the 4-byte groups.
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Sums of each group of 16 bytes: lanes 0 and 1 of the result (as int32 x 4
// per 128 bits: lane 0 + 1 of the low half is group 0, of the high half group 1).
inline __m256i GroupSums16(__m256i q) {
  // maddubs(1, q) gives 16 pair sums; madd with 1 gives 8 quad sums.
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
  const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  // Sum the 4 quads of each 128-bit half.
  const __m256i s = _mm256_hadd_epi32(quads, quads);
  return _mm256_hadd_epi32(s, s);  // each half: its group sum in every lane
}

void Quantize32(const float* x, int64_t n, ActBlock32* out) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    ActBlock32& blk = out[b];
    __m256 m = Abs(_mm256_loadu_ps(x));
    for (int k = 1; k < 4; ++k) m = _mm256_max_ps(m, Abs(_mm256_loadu_ps(x + 8 * k)));
    const float amax = HmaxF32(m);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256i q = RoundToBytes(x, _mm256_set1_ps(id));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk.qs), q);
    const __m256i g = GroupSums16(q);
    const int32_t sum = _mm256_cvtsi256_si32(g) + _mm256_extract_epi32(g, 4);
    blk.d = RoundThroughHalf(d);
    blk.s = RoundThroughHalf(d * static_cast<float>(sum));
    blk.sum = sum;
    blk.lane_bias = 0;
  }
}

void QuantizeK(const float* x, int64_t n, BlockQ8_K* out) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    BlockQ8_K& blk = out[b];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K / 8; ++k) m = _mm256_max_ps(m, Abs(_mm256_loadu_ps(x + 8 * k)));
    const float amax = HmaxF32(m);
    if (amax == 0.0f) {
      __builtin_memset(&blk, 0, sizeof blk);
      continue;
    }
    // The signed value at the first position of largest magnitude.
    float max = 0.0f;
    const __m256 target = _mm256_set1_ps(amax);
    for (int k = 0; k < kQK_K / 8; ++k) {
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(Abs(_mm256_loadu_ps(x + 8 * k)), target, _CMP_EQ_OQ));
      if (mask != 0) {
        max = x[8 * k + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 mul = _mm256_set1_ps(iscale);
    for (int c = 0; c < kQK_K / 32; ++c) {
      // Saturating packs cap at 127 as the scalar min(127, v) does.
      const __m256i q = RoundToBytes(x + 32 * c, mul);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk.qs + 32 * c), q);
      const __m256i g = GroupSums16(q);
      blk.bsums[2 * c] = static_cast<int16_t>(_mm256_cvtsi256_si32(g));
      blk.bsums[2 * c + 1] = static_cast<int16_t>(_mm256_extract_epi32(g, 4));
    }
    blk.d = 1.0f / iscale;
  }
}

}  // namespace

void FillAvx2ActivationQuantizers(ActivationQuantizers& q) {
  q.block32 = &Quantize32;
  q.super_block = &QuantizeK;
}

}  // namespace tinyrag::kernels
