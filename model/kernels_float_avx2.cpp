// F32, F16 and BF16 weight rows against f32 activations, AVX2 + FMA + F16C.
// No inline function shared with other files is called here (see
// kernels_quant_simd.inc for why).
#include <immintrin.h>

#include <cstdint>

#include "model/kernels_internal.h"
#include "model/tensor_type.h"

namespace tinyrag::kernels {
namespace {

inline float HsumF32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

struct F32T {
  using Elem = float;
  static __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
  static float One(float v) { return v; }
};
struct F16T {
  using Elem = uint16_t;
  static __m256 Load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float One(uint16_t v) { return _cvtsh_ss(v); }
};
struct BF16T {
  using Elem = uint16_t;
  static __m256 Load8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float One(uint16_t v) {
    const uint32_t bits = static_cast<uint32_t>(v) << 16;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
  }
};

template <class T, int NA>
void DotImpl(const void* w, const void* const* acts, int64_t cols, float* out) {
  const typename T::Elem* row = static_cast<const typename T::Elem*>(w);
  const float* x[NA];
  __m256 acc0[NA], acc1[NA];
  for (int a = 0; a < NA; ++a) {
    x[a] = static_cast<const float*>(acts[a]);
    acc0[a] = acc1[a] = _mm256_setzero_ps();
  }
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    const __m256 w0 = T::Load8(row + j), w1 = T::Load8(row + j + 8);
    for (int a = 0; a < NA; ++a) {
      acc0[a] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[a] + j), acc0[a]);
      acc1[a] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[a] + j + 8), acc1[a]);
    }
  }
  for (int a = 0; a < NA; ++a) {
    float tail = 0.0f;
    for (int64_t k = j; k < cols; ++k) tail += T::One(row[k]) * x[a][k];
    out[a] = HsumF32(_mm256_add_ps(acc0[a], acc1[a])) + tail;
  }
}

template <class T>
void Dot(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  switch (na) {
    case 1:
      return DotImpl<T, 1>(w, acts, cols, out);
    case 2:
      return DotImpl<T, 2>(w, acts, cols, out);
    case 3:
      return DotImpl<T, 3>(w, acts, cols, out);
    default:
      return DotImpl<T, 4>(w, acts, cols, out);
  }
}

}  // namespace

void FillAvx2FloatKernels(KernelTable& t) {
  t[static_cast<int>(GgmlType::kF32)].f32 = &Dot<F32T>;
  t[static_cast<int>(GgmlType::kF16)].f32 = &Dot<F16T>;
  t[static_cast<int>(GgmlType::kBF16)].f32 = &Dot<BF16T>;
}

}  // namespace tinyrag::kernels
