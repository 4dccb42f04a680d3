// Quad row kernels for the 32-value weight types on AVX-512 VL + VNNI: four
// consecutive weight blocks are decoded into four byte vectors whose 32-bit
// lanes 2j and 2j+1 belong to block j, so the activation side (ActQuad32, laid
// out to match) needs one VPDPBUSD per block and one conversion, scale
// multiply and FMA per four blocks. The row kernels this replaces paid a
// multiply, a conversion and an FMA per block and activation row, which made
// every further sequence in a batched decode step cost ~2.5 cycles per block.
//
// Every activation row goes through the same instructions whatever the
// number of rows per call, so batched results equal one-row results bit for
// bit; they differ from the scalar oracle only in the order of float sums.
// GCC 12 reports the deliberately undefined upper half inside
// _mm512_zextsi256_si512 and friends as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/tensor_type.h"

#define TINYRAG_VNNI 1
#define TINYRAG_AVX512 1

namespace tinyrag::kernels {
namespace {
#include "model/kernels_quant_blocks.inc"
#include "model/kernels_quad_layout.inc"

// The four blocks' nibbles: out[k] holds values 8k..8k+7 of each block (the
// low nibbles of bytes 0-7 and 8-15 are values 0-15, the high ones 16-31).
inline void Nibbles4(const uint8_t* qs0, const uint8_t* qs1, const uint8_t* qs2,
                     const uint8_t* qs3, __m256i out[4]) {
  const __m256i a = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(qs2),
                                        reinterpret_cast<const __m128i*>(qs0));
  const __m256i b = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(qs3),
                                        reinterpret_cast<const __m128i*>(qs1));
  const __m256i lo = _mm256_unpacklo_epi64(a, b);  // bytes 0-7 of blocks 0, 1 | 2, 3
  const __m256i hi = _mm256_unpackhi_epi64(a, b);  // bytes 8-15
  out[0] = _mm256_and_si256(lo, Mask8(15));
  out[1] = _mm256_and_si256(hi, Mask8(15));
  out[2] = _mm256_and_si256(_mm256_srli_epi16(lo, 4), Mask8(15));
  out[3] = _mm256_and_si256(_mm256_srli_epi16(hi, 4), Mask8(15));
}

// Adds 16 to the values whose bit is set in the blocks' 32-bit qh words. All
// in vector registers: moving masks through general registers stalled.
inline void FifthBits4(const uint8_t* qh0, const uint8_t* qh1, const uint8_t* qh2,
                       const uint8_t* qh3, __m256i v[4]) {
  const __m128i qh = _mm_setr_epi32(static_cast<int>(LoadU32(qh0)), static_cast<int>(LoadU32(qh1)),
                                    static_cast<int>(LoadU32(qh2)), static_cast<int>(LoadU32(qh3)));
  const __m256i both = _mm256_broadcastsi128_si256(qh);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  for (int k = 0; k < 4; ++k) {
    // Byte p of v[k] is value 8k + p % 8 of block p / 8: its bit is bit p % 8
    // of byte k of block p / 8's qh, byte 4 * (p / 8) + k of `both`.
    const __m256i idx = _mm256_add_epi8(
        _mm256_setr_epi64x(0, 0x0404040404040404, 0x0808080808080808, 0x0c0c0c0c0c0c0c0c), Mask8(k));
    const __mmask32 set = _mm256_test_epi8_mask(_mm256_shuffle_epi8(both, idx), bit);
    v[k] = _mm256_mask_add_epi8(v[k], set, v[k], Mask8(16));
  }
}

// Four fp16 values as eight floats, each twice: [h0, h0, h1, h1, ..., h3, h3].
inline __m256 Pairs4(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
  const uint64_t packed = h0 | static_cast<uint64_t>(h1) << 16 | static_cast<uint64_t>(h2) << 32 |
                          static_cast<uint64_t>(h3) << 48;
  const __m128i x = _mm_cvtsi64_si128(static_cast<int64_t>(packed));
  return _mm256_cvtph_ps(_mm_unpacklo_epi16(x, x));
}

inline __m128 Four(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
  const uint64_t packed = h0 | static_cast<uint64_t>(h1) << 16 | static_cast<uint64_t>(h2) << 32 |
                          static_cast<uint64_t>(h3) << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(packed)));
}

// Per type: Decode(b, v) fills v[0..3] with the unsigned levels of blocks
// b[0..3] (levels + kOffset for the signed types); MinPairs for the types with
// a min gives [m0, m1, m2, m3].
struct Quad4_0 {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  static constexpr bool kHasMin = false;
  static void Decode(const Block* b, __m256i v[4]) { Nibbles4(b[0].qs, b[1].qs, b[2].qs, b[3].qs, v); }
};
struct Quad4_1 {
  using Block = BlockQ4_1;
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  static void Decode(const Block* b, __m256i v[4]) { Nibbles4(b[0].qs, b[1].qs, b[2].qs, b[3].qs, v); }
};
struct Quad5_0 {
  using Block = BlockQ5_0;
  static constexpr int kOffset = 16;
  static constexpr bool kHasMin = false;
  static void Decode(const Block* b, __m256i v[4]) {
    Nibbles4(b[0].qs, b[1].qs, b[2].qs, b[3].qs, v);
    FifthBits4(b[0].qh, b[1].qh, b[2].qh, b[3].qh, v);
  }
};
struct Quad5_1 {
  using Block = BlockQ5_1;
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  static void Decode(const Block* b, __m256i v[4]) {
    Nibbles4(b[0].qs, b[1].qs, b[2].qs, b[3].qs, v);
    FifthBits4(b[0].qh, b[1].qh, b[2].qh, b[3].qh, v);
  }
};
struct Quad8_0 {
  using Block = BlockQ8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kHasMin = false;
  static void Decode(const Block* b, __m256i v[4]) {
    for (int half = 0; half < 2; ++half) {
      const int o = 16 * half;
      const __m256i x = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b[2].qs + o),
                                            reinterpret_cast<const __m128i*>(b[0].qs + o));
      const __m256i y = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b[3].qs + o),
                                            reinterpret_cast<const __m128i*>(b[1].qs + o));
      v[2 * half] = _mm256_xor_si256(_mm256_unpacklo_epi64(x, y), Mask8(0x80));
      v[2 * half + 1] = _mm256_xor_si256(_mm256_unpackhi_epi64(x, y), Mask8(0x80));
    }
  }
};
struct QuadIQ4_NL {
  using Block = BlockIQ4_NL;
  static constexpr int kOffset = 128;
  static constexpr bool kHasMin = false;
  static void Decode(const Block* b, __m256i v[4]) {
    Nibbles4(b[0].qs, b[1].qs, b[2].qs, b[3].qs, v);
    for (int k = 0; k < 4; ++k) v[k] = _mm256_xor_si256(Iq4Lookup(v[k]), Mask8(0x80));
  }
};

template <class T>
inline __m128 Mins4(const typename T::Block* b) {
  if constexpr (T::kHasMin) {
    return Four(b[0].m, b[1].m, b[2].m, b[3].m);
  } else {
    return _mm_setzero_ps();
  }
}

// Row sums of up to four accumulators, each as ((l0 + l2) + (l1 + l3)) +
// ((l4 + l6) + (l5 + l7)) over its lanes: the same additions for every count,
// so a row's result does not depend on how many rows share the call.
template <int NA>
inline void ReduceRows(const __m256* acc, float* out) {
  if constexpr (NA == 1) {
    const __m256 t = _mm256_add_ps(acc[0], _mm256_permute_ps(acc[0], 0x4E));
    const __m256 u = _mm256_add_ps(t, _mm256_permute_ps(t, 0xB1));
    out[0] = _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
  } else {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 a = acc[0], b = acc[1], c = NA > 2 ? acc[2] : zero, d = NA > 3 ? acc[3] : zero;
    const __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    const __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    const __m256d abd = _mm256_castps_pd(ab), cdd = _mm256_castps_pd(cd);
    const __m256 s = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(abd, cdd)),
                                   _mm256_castpd_ps(_mm256_unpackhi_pd(abd, cdd)));
    alignas(16) float sums[4];
    _mm_store_ps(sums, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
    for (int i = 0; i < NA; ++i) out[i] = sums[i];
  }
}

// Adds quad q of every activation row times the decoded weight levels v
// (scales dw, as from Pairs4) to the rows' accumulators.
template <int NA>
__attribute__((always_inline)) inline void DotQuad(const __m256i v[4], __m256 dw, const ActQuad32* const* y,
                                                   int64_t q, __m256* chain) {
  for (int a = 0; a < NA; ++a) {
    const ActQuad32& aq = y[a][q];
    auto act = [&](int k) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(aq.qs[k])); };
    // Two dependent pairs rather than one chain of four VPDPBUSD.
    __m256i p = _mm256_load_si256(reinterpret_cast<const __m256i*>(aq.bias));
    __m256i r = _mm256_dpbusd_epi32(_mm256_setzero_si256(), v[1], act(1));
    p = _mm256_dpbusd_epi32(p, v[0], act(0));
    r = _mm256_dpbusd_epi32(r, v[3], act(3));
    p = _mm256_add_epi32(_mm256_dpbusd_epi32(p, v[2], act(2)), r);
    const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(aq.d));
    chain[a] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), chain[a]);
  }
}

// Two accumulator chains per row (quad q -> chain q % 2), added at the end:
// one dependent FMA per quad would wait on its latency.
template <class T, int NA>
__attribute__((always_inline)) inline void QuadImpl(const void* w, const void* const* acts, int64_t cols, float* out) {
  using Block = typename T::Block;
  const Block* blocks = static_cast<const Block*>(w);
  const ActQuad32* y[NA];
  __m256 acc0[NA], acc1[NA];
  __m128 min_acc[NA];
  for (int a = 0; a < NA; ++a) {
    y[a] = static_cast<const ActQuad32*>(acts[a]);
    acc0[a] = acc1[a] = _mm256_setzero_ps();
    min_acc[a] = _mm_setzero_ps();
  }
  auto step = [&](const Block* b, int64_t q, __m256* chain) __attribute__((always_inline)) {
    __m256i v[4];
    T::Decode(b, v);
    DotQuad<NA>(v, Pairs4(b[0].d, b[1].d, b[2].d, b[3].d), y, q, chain);
    if constexpr (T::kHasMin) {
      const __m128 mins = Mins4<T>(b);
      for (int a = 0; a < NA; ++a) min_acc[a] = _mm_fmadd_ps(mins, _mm_load_ps(y[a][q].s), min_acc[a]);
    }
  };
  const int64_t nb = cols / kQK;
  const int64_t full = nb / 4;
  int64_t q = 0;
  for (; q + 2 <= full; q += 2) {
    step(blocks + 4 * q, q, acc0);
    step(blocks + 4 * q + 4, q + 1, acc1);
  }
  for (; q < (nb + 3) / 4; ++q) {
    const Block* b = blocks + 4 * q;
    Block tail[4] = {};  // a row's last, partial quad: zero scales add nothing
    if (q == full) {
      for (int64_t j = 0; j < nb - 4 * q; ++j) tail[j] = b[j];
      b = tail;
    }
    step(b, q, q % 2 == 0 ? acc0 : acc1);
  }
  __m256 sum[NA];
  for (int a = 0; a < NA; ++a) sum[a] = _mm256_add_ps(acc0[a], acc1[a]);
  ReduceRows<NA>(sum, out);
  if constexpr (T::kHasMin) {
    for (int a = 0; a < NA; ++a) {
      __m128 s = _mm_add_ps(min_acc[a], _mm_movehl_ps(min_acc[a], min_acc[a]));
      s = _mm_add_ss(s, _mm_movehdup_ps(s));
      out[a] += _mm_cvtss_f32(s);
    }
  }
}

// ---- Quad layout (model/quad_layout.h) ---------------------------------------
// The same products as the GGML-layout kernels above, from rows rewritten at
// load time: the levels come out of straight loads, so results are bit for
// bit those of QuadImpl.

// DotQuad on 512-bit pairs of the level vectors (w[0] = v[0] | v[1], w[1] =
// v[2] | v[3]) and of the activation bytes (qs[0] | qs[1], qs[2] | qs[3]):
// lane i of either half ends in lane i, so the integer sums and everything
// after them are DotQuad's. Half the instructions of the 256-bit form, which
// the quad layout allows (the pairs are contiguous there): bench_matvec
// decode_batch_hot_quads Q5_0 1 row 75 -> 49-51 us, 4 rows 154-157 -> 120-126.
template <int NA>
__attribute__((always_inline)) inline void DotQuadPairs(const __m512i w[2], __m256 dw, const ActQuad32* const* y,
                                                        int64_t q, __m256* chain) {
  for (int a = 0; a < NA; ++a) {
    const ActQuad32& aq = y[a][q];
    __m512i z = _mm512_zextsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(aq.bias)));
    z = _mm512_dpbusd_epi32(z, w[0], _mm512_load_si512(aq.qs[0]));
    z = _mm512_dpbusd_epi32(z, w[1], _mm512_load_si512(aq.qs[2]));
    const __m256i p = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
    const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(aq.d));
    chain[a] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), chain[a]);
  }
}

// A row in the quad layout (cols a multiple of 128).
template <class L, int NA>
__attribute__((always_inline)) inline void LayoutImpl(const void* w, const void* const* acts, int64_t cols,
                                                      float* out) {
  const uint8_t* row = static_cast<const uint8_t*>(w);
  const ActQuad32* y[NA];
  __m256 acc0[NA], acc1[NA];
  for (int a = 0; a < NA; ++a) {
    y[a] = static_cast<const ActQuad32*>(acts[a]);
    acc0[a] = acc1[a] = _mm256_setzero_ps();
  }
  auto step = [&](int64_t q, __m256* chain) __attribute__((always_inline)) {
    const uint8_t* quad = row + q * L::kBytes;
    __m512i v[2];
    L::DecodePairs(quad, v);
    DotQuadPairs<NA>(v, ScalePairsAt(quad), y, q, chain);
  };
  const int64_t quads = cols / (4 * kQK);
  int64_t q = 0;
  for (; q + 2 <= quads; q += 2) {
    step(q, acc0);
    step(q + 1, acc1);
  }
  if (q < quads) step(q, acc0);
  __m256 sum[NA];
  for (int a = 0; a < NA; ++a) sum[a] = _mm256_add_ps(acc0[a], acc1[a]);
  ReduceRows<NA>(sum, out);
}

// The entry points of one row dot: K::Dot<NA> is QuadImpl (GGML blocks) or
// LayoutImpl (the quad layout).
template <class T>
struct GgmlQuads {
  template <int NA>
  __attribute__((always_inline)) static void Dot(const void* w, const void* const* acts, int64_t cols, float* out) {
    QuadImpl<T, NA>(w, acts, cols, out);
  }
};
template <class L>
struct LayoutQuads {
  template <int NA>
  __attribute__((always_inline)) static void Dot(const void* w, const void* const* acts, int64_t cols, float* out) {
    LayoutImpl<L, NA>(w, acts, cols, out);
  }
};

template <class K, int NA>
void RowsImpl(const WeightView& w, int64_t r0, int64_t r1, const void* const* acts, float* y, int64_t y_stride) {
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  float out[NA];
  for (int64_t r = r0; r < r1; ++r) {
    K::template Dot<NA>(base + r * w.row_stride, acts, w.cols, out);
    for (int a = 0; a < NA; ++a) y[a * y_stride + r] = out[a];
  }
}

template <class K>
void Rows(const WeightView& w, int64_t r0, int64_t r1, const void* const* acts, int na, float* y, int64_t y_stride) {
  switch (na) {
    case 1:
      return RowsImpl<K, 1>(w, r0, r1, acts, y, y_stride);
    case 2:
      return RowsImpl<K, 2>(w, r0, r1, acts, y, y_stride);
    case 3:
      return RowsImpl<K, 3>(w, r0, r1, acts, y, y_stride);
    default:
      return RowsImpl<K, 4>(w, r0, r1, acts, y, y_stride);
  }
}

template <class K>
void Row(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  switch (na) {
    case 1:
      return K::template Dot<1>(w, acts, cols, out);
    case 2:
      return K::template Dot<2>(w, acts, cols, out);
    case 3:
      return K::template Dot<3>(w, acts, cols, out);
    default:
      return K::template Dot<4>(w, acts, cols, out);
  }
}

}  // namespace

void FillAvx512QuadKernels(KernelTable& t) {
  auto set = [&](GgmlType type, RowDotFn fn, RowsDotFn rows) {
    TypeKernels& k = t[static_cast<int>(type)];
    k.q8 = fn;
    k.q8_rows = rows;
    k.q8_quads = true;
  };
  set(GgmlType::kQ4_0, &Row<GgmlQuads<Quad4_0>>, &Rows<GgmlQuads<Quad4_0>>);
  set(GgmlType::kQ4_1, &Row<GgmlQuads<Quad4_1>>, &Rows<GgmlQuads<Quad4_1>>);
  set(GgmlType::kQ5_0, &Row<GgmlQuads<Quad5_0>>, &Rows<GgmlQuads<Quad5_0>>);
  set(GgmlType::kQ5_1, &Row<GgmlQuads<Quad5_1>>, &Rows<GgmlQuads<Quad5_1>>);
  set(GgmlType::kQ8_0, &Row<GgmlQuads<Quad8_0>>, &Rows<GgmlQuads<Quad8_0>>);
  set(GgmlType::kIQ4_NL, &Row<GgmlQuads<QuadIQ4_NL>>, &Rows<GgmlQuads<QuadIQ4_NL>>);
  auto set_layout = [&](GgmlType type, RowDotFn fn, RowsDotFn rows) {
    TypeKernels& k = t[static_cast<int>(type)];
    k.quad_layout = fn;
    k.quad_layout_rows = rows;
  };
  set_layout(GgmlType::kQ4_0, &Row<LayoutQuads<Layout4_0>>, &Rows<LayoutQuads<Layout4_0>>);
  set_layout(GgmlType::kQ5_0, &Row<LayoutQuads<Layout5_0>>, &Rows<LayoutQuads<Layout5_0>>);
  set_layout(GgmlType::kQ8_0, &Row<LayoutQuads<Layout8_0>>, &Rows<LayoutQuads<Layout8_0>>);
}

}  // namespace tinyrag::kernels
