// F32 and BF16 weight rows against f32 activations on 512-bit vectors; the
// row tail uses masked loads. F16 stays on the AVX2 kernel: measured on Zen 4
// (bench_matmul, bench_matvec), 512-bit VCVTPH2PS made F16 matmul ~1.5x
// slower and matvec no faster. Activations stay f32 (not rounded to BF16
// for VDPBF16PS), so BF16 rows are widened with a shift, which is exact and
// cheaper than the memory traffic it hides behind.
#include <immintrin.h>

#include <cstdint>

#include "model/kernels_internal.h"
#include "model/tensor_type.h"

// GCC 12's AVX-512 headers build some results from _mm512_undefined_*(),
// which its flow analysis reports as uninitialized; the values are defined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace tinyrag::kernels {
namespace {

struct F32T {
  using Elem = float;
  static __m512 Load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct BF16T {
  using Elem = uint16_t;
  static __m512 Load16(const uint16_t* p, __mmask16 m) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  }
};

template <class T, int NA>
void DotImpl(const void* w, const void* const* acts, int64_t cols, float* out) {
  const typename T::Elem* row = static_cast<const typename T::Elem*>(w);
  const float* x[NA];
  __m512 acc0[NA], acc1[NA];
  for (int a = 0; a < NA; ++a) {
    x[a] = static_cast<const float*>(acts[a]);
    acc0[a] = acc1[a] = _mm512_setzero_ps();
  }
  const __mmask16 all = 0xffff;
  int64_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    const __m512 w0 = T::Load16(row + j, all), w1 = T::Load16(row + j + 16, all);
    for (int a = 0; a < NA; ++a) {
      acc0[a] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[a] + j), acc0[a]);
      acc1[a] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x[a] + j + 16), acc1[a]);
    }
  }
  for (; j < cols; j += 16) {
    const int64_t left = cols - j;
    const __mmask16 m = left >= 16 ? all : static_cast<__mmask16>((1u << left) - 1);
    const __m512 w0 = T::Load16(row + j, m);
    for (int a = 0; a < NA; ++a) {
      acc0[a] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x[a] + j), acc0[a]);
    }
  }
  for (int a = 0; a < NA; ++a) out[a] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[a], acc1[a]));
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

void FillAvx512FloatKernels(KernelTable& t) {
  t[static_cast<int>(GgmlType::kF32)].f32 = &Dot<F32T>;
  t[static_cast<int>(GgmlType::kBF16)].f32 = &Dot<BF16T>;
}

}  // namespace tinyrag::kernels
