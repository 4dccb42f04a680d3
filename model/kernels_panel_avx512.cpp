// Panel kernels for prefill-sized matrix products on AVX-512 VNNI.
//
// The row kernels decode a weight block and then spend a conversion, a scale
// and a horizontal sum per block and activation row. Here a panel of 16 weight
// rows is decoded once into unsigned bytes laid out so that one 512-bit vector
// holds 4 consecutive values of each of the 16 rows; VPDPBUSD against 4
// activation bytes broadcast from memory then adds 4 products to each row's
// lane. Eight of those cover a 32-value chunk for 16 rows, and the float work
// (one conversion, scale products, one add) is shared by the 16 rows.
//
// The float steps and their order per output are those of the scalar oracle
// (kernels_scalar.cpp): a panel result is bit-identical to it for every type.
// No std:: templates here (see kernels_quant_blocks.inc for why).
// GCC 12 reports the deliberately undefined pass-through operand inside
// _mm512_cvtepi32_ps as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "model/activation_quant.h"
#include "model/kernels.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/tensor_type.h"

#define TINYRAG_VNNI 1
#define TINYRAG_AVX512 1

namespace tinyrag::kernels {
namespace {
#include "model/kernels_quant_blocks.inc"
#include "model/kernels_quad_layout.inc"

static_assert(kPanelRows == 16, "one 512-bit vector of int32 lanes per panel");

// Activation rows run against a panel at once.
constexpr int kActGroup = 4;

// ---- Packed layouts ---------------------------------------------------------
// 32-value types, per block b of the rows: 8 vectors of bytes (vector k holds
// values 4k..4k+3 of each row), then 16 float scales d, then 16 float mins m.
constexpr int64_t kChunkBytes32 = 8 * 64 + 16 * 4 + 16 * 4;
// Super-block types, per super-block: 8 chunks of [8 byte vectors, 16 int32
// scales of the chunk's first 16-value group, 16 of its second, 16 int32 min
// pairs (two int16)], then 16 float d and 16 float dmin.
constexpr int64_t kChunkBytesK = 8 * 64 + 3 * 16 * 4;
constexpr int64_t kSuperBytesK = 8 * kChunkBytesK + 2 * 16 * 4;

// Values per integer scale group of the super-block types (16 or 32).
template <class T>
constexpr int kGroupValues = 32;
template <>
constexpr int kGroupValues<Q2_KT> = 16;
template <>
constexpr int kGroupValues<Q3_KT> = 16;
template <>
constexpr int kGroupValues<Q6_KT> = 16;

// The weight level offset the activation biases remove (0: none).
template <class T>
constexpr int Offset32() {
  return T::kSigned ? 8 << T::kOffsetLog2Over8 : 0;
}
template <class T>
constexpr int OffsetK() {
  return T::kSigned ? 128 : (T::kOffsetShift >= 0 ? 1 << T::kOffsetShift : 0);
}

// Index vectors of the three VPERMT2D rounds of Interleave (a lane index
// below 16 selects from the first operand, 16 + i from the second).
struct InterleaveIndex {
  int32_t round1[2][16];  // rows (0,1) + (2,3) as [row][8 dwords] -> [dword][4 rows], low/high dwords
  int32_t round2[2][16];  // 4-row halves -> [dword][8 rows], dwords (0,1) / (2,3) of each half
  int32_t round3[2][16];  // 8-row halves -> [16 rows] of the first / second dword
};
constexpr InterleaveIndex MakeInterleaveIndex() {
  InterleaveIndex x{};
  for (int i = 0; i < 16; ++i) {
    for (int h = 0; h < 2; ++h) {
      const int row1 = i % 4, dw1 = i / 4 + 4 * h;
      x.round1[h][i] = (row1 / 2) * 16 + (row1 % 2) * 8 + dw1;
      const int row2 = i % 8, dw2 = i / 8 + 2 * h;
      x.round2[h][i] = row2 < 4 ? dw2 * 4 + row2 : 16 + dw2 * 4 + row2 - 4;
      x.round3[h][i] = i < 8 ? 8 * h + i : 16 + 8 * h + i - 8;
    }
  }
  return x;
}
alignas(64) constexpr InterleaveIndex kInterleave = MakeInterleaveIndex();

inline __m512i Permute2(__m512i a, const int32_t* index, __m512i b) {
  return _mm512_permutex2var_epi32(a, _mm512_load_si512(index), b);
}

// rows[r] (32 bytes each) -> 8 vectors: vector k, lane r = bytes 4k..4k+3 of
// row r (a 16 x 8 transpose of 32-bit words in three rounds of VPERMT2D).
void Interleave(const uint8_t (*rows)[32], uint8_t* out) {
  __m512i pairs[8];  // rows 2j, 2j+1
  for (int j = 0; j < 8; ++j) pairs[j] = _mm512_loadu_si512(rows[2 * j]);
  __m512i quads[8];  // [dword][4 rows] of rows 4q..4q+3: dwords 0-3 at 2q, 4-7 at 2q+1
  for (int q = 0; q < 4; ++q) {
    for (int h = 0; h < 2; ++h) {
      quads[2 * q + h] = Permute2(pairs[2 * q], kInterleave.round1[h], pairs[2 * q + 1]);
    }
  }
  __m512i octs[8];  // [dword][8 rows] of rows 8o..8o+7: dwords (0,1), (2,3), (4,5), (6,7) at 4o+0..3
  for (int o = 0; o < 2; ++o) {
    for (int g = 0; g < 2; ++g) {      // dwords 0-3 or 4-7
      for (int h = 0; h < 2; ++h) {    // the first or second pair of them
        octs[4 * o + 2 * g + h] =
            Permute2(quads[4 * o + g], kInterleave.round2[h], quads[4 * o + 2 + g]);
      }
    }
  }
  for (int pr = 0; pr < 4; ++pr) {     // dword pairs (2 pr, 2 pr + 1)
    for (int h = 0; h < 2; ++h) {
      _mm512_storeu_si512(out + 64 * (2 * pr + h), Permute2(octs[pr], kInterleave.round3[h], octs[4 + pr]));
    }
  }
}

inline __m512i Bcast32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// ---- 32-value block types ---------------------------------------------------

template <class T>
int64_t PanelBytes32(int64_t cols) {
  return cols / kQK * kChunkBytes32;
}

// The quad layout's decoder for a block type (void: it has none).
template <class T>
struct LayoutOf {
  using type = void;
};
template <>
struct LayoutOf<Q4_0T> {
  using type = Layout4_0;
};
template <>
struct LayoutOf<Q5_0T> {
  using type = Layout5_0;
};
template <>
struct LayoutOf<Q8_0T> {
  using type = Layout8_0;
};

// Pack32 for rows in the quad layout: a quad's vectors hold 8 values of each
// of its four blocks (v[k], qword j = values 8k..8k+7 of block j); a 4 x 4
// transpose of qwords gives the blocks' 32 levels in value order.
template <class L>
void Pack32Quads(const WeightView& w, int64_t r0, int rows, uint8_t* panel) {
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + r0 * w.row_stride;
  alignas(64) uint8_t dec[4][kPanelRows][32];
  for (int64_t q = 0; q < w.cols / (4 * kQK); ++q) {
    float* d[4];
    for (int j = 0; j < 4; ++j) d[j] = reinterpret_cast<float*>(panel + (4 * q + j) * kChunkBytes32 + 8 * 64);
    for (int r = 0; r < kPanelRows; ++r) {
      if (r < rows) {
        const uint8_t* quad = base + r * w.row_stride + q * L::kBytes;
        __m256i v[4];
        L::Decode(quad, v);
        const __m256i t0 = _mm256_unpacklo_epi64(v[0], v[1]), t1 = _mm256_unpackhi_epi64(v[0], v[1]);
        const __m256i t2 = _mm256_unpacklo_epi64(v[2], v[3]), t3 = _mm256_unpackhi_epi64(v[2], v[3]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[0][r]), _mm256_permute2x128_si256(t0, t2, 0x20));
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[1][r]), _mm256_permute2x128_si256(t1, t3, 0x20));
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[2][r]), _mm256_permute2x128_si256(t0, t2, 0x31));
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[3][r]), _mm256_permute2x128_si256(t1, t3, 0x31));
        for (int j = 0; j < 4; ++j) d[j][r] = HalfToFloat(static_cast<uint16_t>(quad[2 * j] | quad[2 * j + 1] << 8));
      } else {
        for (int j = 0; j < 4; ++j) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(dec[j][r]), _mm256_setzero_si256());
          d[j][r] = 0.0f;
        }
      }
      for (int j = 0; j < 4; ++j) d[j][16 + r] = 0.0f;  // no mins
    }
    for (int j = 0; j < 4; ++j) Interleave(dec[j], panel + (4 * q + j) * kChunkBytes32);
  }
}

template <class T>
void Pack32(const WeightView& w, int64_t r0, int rows, uint8_t* panel) {
  if constexpr (!std::is_void_v<typename LayoutOf<T>::type>) {
    if (w.layout == WeightLayout::kQuads) return Pack32Quads<typename LayoutOf<T>::type>(w, r0, rows, panel);
  }
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + r0 * w.row_stride;
  alignas(64) uint8_t dec[kPanelRows][32];
  for (int64_t b = 0; b < w.cols / kQK; ++b) {
    uint8_t* chunk = panel + b * kChunkBytes32;
    float* d = reinterpret_cast<float*>(chunk + 8 * 64);
    float* m = d + 16;
    for (int r = 0; r < kPanelRows; ++r) {
      if (r < rows) {
        const auto* blk = reinterpret_cast<const typename T::Block*>(base + r * w.row_stride) + b;
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[r]), T::DecodeUnsigned(*blk));
        d[r] = HalfToFloat(blk->d);
        m[r] = T::M(*blk);
      } else {
        _mm256_store_si256(reinterpret_cast<__m256i*>(dec[r]), _mm256_setzero_si256());
        d[r] = m[r] = 0.0f;
      }
    }
    Interleave(dec, chunk);
  }
}

// Outputs of the panel rows for NA activation rows.
template <class T, int NA>
void Multiply32Group(const uint8_t* panel, int64_t cols, const PanelActChunk* const* acts,
                     float* const* ys, __mmask16 mask) {
  __m512 acc[NA];
  for (int a = 0; a < NA; ++a) acc[a] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / kQK; ++b) {
    const uint8_t* chunk = panel + b * kChunkBytes32;
    __m512i q[8];
    for (int k = 0; k < 8; ++k) q[k] = _mm512_loadu_si512(chunk + 64 * k);
    const float* dm = reinterpret_cast<const float*>(chunk + 8 * 64);
    const __m512 d = _mm512_loadu_ps(dm);
    for (int a = 0; a < NA; ++a) {
      const PanelActChunk& x = acts[a][b];
      // Two chains of 4 dependent VPDPBUSD instead of one of 8 (latency).
      __m512i even = _mm512_set1_epi32(x.bias[0]), odd = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        even = _mm512_dpbusd_epi32(even, q[k], Bcast32(x.qs + 4 * k));
        odd = _mm512_dpbusd_epi32(odd, q[k + 1], Bcast32(x.qs + 4 * k + 4));
      }
      const __m512i dot = _mm512_add_epi32(even, odd);
      // The oracle's acc += (d * yd) * sumi + m * s, in that order.
      __m512 p = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(x.d)), _mm512_cvtepi32_ps(dot));
      if (T::kHasMin) p = _mm512_add_ps(p, _mm512_mul_ps(_mm512_loadu_ps(dm + 16), _mm512_set1_ps(x.s)));
      acc[a] = _mm512_add_ps(acc[a], p);
    }
  }
  for (int a = 0; a < NA; ++a) _mm512_mask_storeu_ps(ys[a], mask, acc[a]);
}

// ---- Super-block types -------------------------------------------------------

template <class T>
int64_t PanelBytesK(int64_t cols) {
  return cols / kQK_K * kSuperBytesK;
}

template <class T>
void PackK(const WeightView& w, int64_t r0, int rows, uint8_t* panel) {
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + r0 * w.row_stride;
  alignas(64) uint8_t dec[8][kPanelRows][32];
  alignas(32) int16_t scales[kPanelRows][16], mins[kPanelRows][16];
  for (int64_t b = 0; b < w.cols / kQK_K; ++b) {
    uint8_t* super = panel + b * kSuperBytesK;
    float* d = reinterpret_cast<float*>(super + 8 * kChunkBytesK);
    float* dmin = d + 16;
    for (int r = 0; r < kPanelRows; ++r) {
      if (r < rows) {
        const auto* blk = reinterpret_cast<const typename T::Block*>(base + r * w.row_stride) + b;
        for (int c = 0; c < 8; ++c) {
          __m256i q = T::Chunk(*blk, c);
          if (T::kSigned) q = _mm256_xor_si256(q, Mask8(0x80));
          _mm256_store_si256(reinterpret_cast<__m256i*>(dec[c][r]), q);
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(scales[r]), T::GroupScales(*blk));
        _mm256_store_si256(reinterpret_cast<__m256i*>(mins[r]), T::GroupMins(*blk));
        d[r] = HalfToFloat(blk->d);
        dmin[r] = T::Dmin(*blk);
      } else {
        for (int c = 0; c < 8; ++c) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(dec[c][r]), _mm256_setzero_si256());
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(scales[r]), _mm256_setzero_si256());
        _mm256_store_si256(reinterpret_cast<__m256i*>(mins[r]), _mm256_setzero_si256());
        d[r] = dmin[r] = 0.0f;
      }
    }
    for (int c = 0; c < 8; ++c) {
      uint8_t* chunk = super + c * kChunkBytesK;
      Interleave(dec[c], chunk);
      int32_t* sc0 = reinterpret_cast<int32_t*>(chunk + 8 * 64);
      int32_t* sc1 = sc0 + 16;
      int32_t* mn = sc1 + 16;
      for (int r = 0; r < kPanelRows; ++r) {
        sc0[r] = scales[r][2 * c];
        sc1[r] = scales[r][2 * c + 1];
        mn[r] = static_cast<int32_t>(static_cast<uint16_t>(mins[r][2 * c]) |
                                     static_cast<uint32_t>(static_cast<uint16_t>(mins[r][2 * c + 1]))
                                         << 16);
      }
    }
  }
}

template <class T, int NA>
void MultiplyKGroup(const uint8_t* panel, int64_t cols, const PanelActChunk* const* acts,
                    float* const* ys, __mmask16 mask) {
  constexpr bool kGroups16 = kGroupValues<T> == 16;
  __m512 acc[NA];
  for (int a = 0; a < NA; ++a) acc[a] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / kQK_K; ++b) {
    const uint8_t* super = panel + b * kSuperBytesK;
    __m512i isum[NA], msum[NA];
    for (int a = 0; a < NA; ++a) isum[a] = msum[a] = _mm512_setzero_si512();
    for (int c = 0; c < 8; ++c) {
      const uint8_t* chunk = super + c * kChunkBytesK;
      __m512i q[8];
      for (int k = 0; k < 8; ++k) q[k] = _mm512_loadu_si512(chunk + 64 * k);
      const __m512i sc0 = _mm512_loadu_si512(chunk + 8 * 64);
      for (int a = 0; a < NA; ++a) {
        const PanelActChunk& x = acts[a][8 * b + c];
        if (kGroups16) {
          __m512i lo = _mm512_set1_epi32(x.bias[0]), hi = _mm512_set1_epi32(x.bias[1]);
          for (int k = 0; k < 4; ++k) lo = _mm512_dpbusd_epi32(lo, q[k], Bcast32(x.qs + 4 * k));
          for (int k = 4; k < 8; ++k) hi = _mm512_dpbusd_epi32(hi, q[k], Bcast32(x.qs + 4 * k));
          const __m512i sc1 = _mm512_loadu_si512(chunk + 8 * 64 + 64);
          isum[a] = _mm512_add_epi32(isum[a], _mm512_add_epi32(_mm512_mullo_epi32(lo, sc0),
                                                               _mm512_mullo_epi32(hi, sc1)));
        } else {
          __m512i even = _mm512_set1_epi32(x.bias[0]), odd = _mm512_setzero_si512();
          for (int k = 0; k < 8; k += 2) {
            even = _mm512_dpbusd_epi32(even, q[k], Bcast32(x.qs + 4 * k));
            odd = _mm512_dpbusd_epi32(odd, q[k + 1], Bcast32(x.qs + 4 * k + 4));
          }
          isum[a] = _mm512_add_epi32(isum[a], _mm512_mullo_epi32(_mm512_add_epi32(even, odd), sc0));
        }
        if (T::kHasMin) {
          const __m512i mn = _mm512_loadu_si512(chunk + 8 * 64 + 128);
          msum[a] = _mm512_dpwssd_epi32(msum[a], mn, _mm512_set1_epi32(x.bsum_pair));
        }
      }
    }
    const float* dd = reinterpret_cast<const float*>(super + 8 * kChunkBytesK);
    const __m512 d = _mm512_loadu_ps(dd);
    for (int a = 0; a < NA; ++a) {
      const __m512 yd = _mm512_set1_ps(acts[a][8 * b].d);
      // The oracle's acc += (d * yd) * isum - (dmin * yd) * mins, in that order.
      __m512 p = _mm512_mul_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(isum[a]));
      if (T::kHasMin) {
        const __m512 dmin = _mm512_loadu_ps(dd + 16);
        p = _mm512_sub_ps(p, _mm512_mul_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(msum[a])));
      }
      acc[a] = _mm512_add_ps(acc[a], p);
    }
  }
  for (int a = 0; a < NA; ++a) _mm512_mask_storeu_ps(ys[a], mask, acc[a]);
}

// ---- Entry points -------------------------------------------------------------

template <class T, int NA>
struct Group32 {
  static void Run(const uint8_t* p, int64_t cols, const PanelActChunk* const* x, float* const* y,
                  __mmask16 m) {
    Multiply32Group<T, NA>(p, cols, x, y, m);
  }
};
template <class T, int NA>
struct GroupK {
  static void Run(const uint8_t* p, int64_t cols, const PanelActChunk* const* x, float* const* y,
                  __mmask16 m) {
    MultiplyKGroup<T, NA>(p, cols, x, y, m);
  }
};

// Runs the panel against activation rows in groups of 4 (and the remainder).
template <template <class, int> class G, class T>
void Multiply(const uint8_t* panel, int64_t cols, const PanelActChunk* acts, int64_t n,
              float* y, int64_t y_stride, int rows) {
  const int64_t chunks = cols / kQK;
  const __mmask16 mask = static_cast<__mmask16>((1u << rows) - 1);
  const PanelActChunk* x[kActGroup];
  float* out[kActGroup];
  int64_t a = 0;
  for (; a + kActGroup <= n; a += kActGroup) {
    for (int i = 0; i < kActGroup; ++i) {
      x[i] = acts + (a + i) * chunks;
      out[i] = y + (a + i) * y_stride;
    }
    G<T, kActGroup>::Run(panel, cols, x, out, mask);
  }
  for (; a < n; ++a) {
    x[0] = acts + a * chunks;
    out[0] = y + a * y_stride;
    G<T, 1>::Run(panel, cols, x, out, mask);
  }
}

template <class T>
constexpr PanelKernels Kernels32() {
  return PanelKernels{false, Offset32<T>(), false, &PanelBytes32<T>, &Pack32<T>,
                      &Multiply<Group32, T>};
}
template <class T>
constexpr PanelKernels KernelsK() {
  return PanelKernels{true, OffsetK<T>(), kGroupValues<T> == 16, &PanelBytesK<T>, &PackK<T>,
                      &Multiply<GroupK, T>};
}

constexpr PanelKernels kQ4_0Panel = Kernels32<Q4_0T>();
constexpr PanelKernels kQ4_1Panel = Kernels32<Q4_1T>();
constexpr PanelKernels kQ5_0Panel = Kernels32<Q5_0T>();
constexpr PanelKernels kQ5_1Panel = Kernels32<Q5_1T>();
constexpr PanelKernels kQ8_0Panel = Kernels32<Q8_0T>();
constexpr PanelKernels kIQ4_NLPanel = Kernels32<IQ4_NLT>();
constexpr PanelKernels kQ2_KPanel = KernelsK<Q2_KT>();
constexpr PanelKernels kQ3_KPanel = KernelsK<Q3_KT>();
constexpr PanelKernels kQ4_KPanel = KernelsK<Q4_KT>();
constexpr PanelKernels kQ5_KPanel = KernelsK<Q5_KT>();
constexpr PanelKernels kQ6_KPanel = KernelsK<Q6_KT>();
constexpr PanelKernels kIQ4_XSPanel = KernelsK<IQ4_XST>();

}  // namespace

const PanelKernels* Avx512PanelKernels(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return &kQ4_0Panel;
    case GgmlType::kQ4_1: return &kQ4_1Panel;
    case GgmlType::kQ5_0: return &kQ5_0Panel;
    case GgmlType::kQ5_1: return &kQ5_1Panel;
    case GgmlType::kQ8_0: return &kQ8_0Panel;
    case GgmlType::kIQ4_NL: return &kIQ4_NLPanel;
    case GgmlType::kQ2_K: return &kQ2_KPanel;
    case GgmlType::kQ3_K: return &kQ3_KPanel;
    case GgmlType::kQ4_K: return &kQ4_KPanel;
    case GgmlType::kQ5_K: return &kQ5_KPanel;
    case GgmlType::kQ6_K: return &kQ6_KPanel;
    case GgmlType::kIQ4_XS: return &kIQ4_XSPanel;
    default: return nullptr;
  }
}

}  // namespace tinyrag::kernels
