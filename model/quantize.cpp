// Quantization from f32 to every supported GGML type (layouts in
// model/quant_blocks.h).
//
// Method: each (sub-)block gets its scale (and min) from a small search over
// candidate scales, keeping the candidate with the least squared error after a
// least-squares refit; the k-quants then quantize their sub-block scales
// against an f16 super-scale, and every quant is finally rounded against the
// scales exactly as they will be decoded (after f16 rounding), so the
// quantization error is what a reader of the file sees.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "absl/strings/str_format.h"
#include "model/half.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"

namespace tinyrag {
namespace {

// Round half to even, like lrint but without a libm call on baseline x86-64:
// adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
inline int Round(float v) {
  if (!(std::fabs(v) < 4194303.0f)) return v > 0 ? (1 << 22) : -(1 << 22);  // clamped by callers
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

inline int Clamp(int v, int lo, int hi) { return std::min(std::max(v, lo), hi); }

// Value of x[0..n) with the largest magnitude (keeping its sign); 0 for all zeros.
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// Scale s for x ≈ s * l with integer l in [-nmax, nmax-1]. The extreme value maps
// to -nmax (the side with one more level); a few nearby scales are tried and the
// least-squares refit with the lowest error wins.
float FitSymmetric(const float* x, int n, int nmax) {
  const float max = SignedAbsMax(x, n);
  if (max == 0.0f) return 0.0f;
  float best_scale = max / static_cast<float>(-nmax);
  double best_score = -1.0;  // sumlx^2 / suml2: larger means less squared error
  for (int t = -6; t <= 6; ++t) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / max;
    double sumlx = 0.0;
    double suml2 = 0.0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(Round(iscale * x[i]), -nmax, nmax - 1);
      sumlx += static_cast<double>(x[i]) * l;
      suml2 += static_cast<double>(l) * l;
    }
    if (suml2 > 0.0 && sumlx * sumlx / suml2 > best_score) {
      best_score = sumlx * sumlx / suml2;
      best_scale = static_cast<float>(sumlx / suml2);
    }
  }
  return best_scale;
}

// Scale s >= 0 and offset m >= 0 for x ≈ s * l - m with integer l in [0, nmax]
// (the k-quant form: the offset is subtracted and never negative).
void FitAsymmetric(const float* x, int n, int nmax, float* scale, float* offset) {
  float lo = *std::min_element(x, x + n);
  const float hi = *std::max_element(x, x + n);
  lo = std::min(lo, 0.0f);
  if (hi == lo) {
    *scale = 0.0f;
    *offset = -lo;
    return;
  }
  double best_err = -1.0;
  for (int t = -5; t <= 5; ++t) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / (hi - lo);
    double sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
    assert(n <= kQK);
    int l_of[kQK];
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(Round(iscale * (x[i] - lo)), 0, nmax);
      l_of[i] = l;
      sw += 1;
      sl += l;
      sl2 += static_cast<double>(l) * l;
      sx += x[i];
      sxl += static_cast<double>(x[i]) * l;
    }
    const double det = sw * sl2 - sl * sl;
    if (det <= 0) continue;
    double a = (sw * sxl - sx * sl) / det;
    double b = (sl2 * sx - sl * sxl) / det;  // x ≈ a*l + b
    if (b > 0) {  // the offset form cannot add: refit with b = 0
      b = 0;
      a = sxl / sl2;
    }
    if (a <= 0) continue;
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const double e = a * l_of[i] + b - x[i];
      err += e * e;
    }
    if (best_err < 0 || err < best_err) {
      best_err = err;
      *scale = static_cast<float>(a);
      *offset = static_cast<float>(-b);
    }
  }
  if (best_err < 0) {  // no usable candidate: plain min/max range
    *scale = (hi - lo) / static_cast<float>(nmax);
    *offset = -lo;
  }
}

// ---- 32-wide formats -------------------------------------------------------

// Quant of x at scale d (decoded), offset `zero`, clamped to [0, qmax].
inline int QuantAt(float x, float d, int zero, int qmax) {
  return d == 0.0f ? zero : Clamp(Round(x / d) + zero, 0, qmax);
}

inline void PutNibble(uint8_t* qs, int j, int q) {
  if (j < kQK / 2) {
    qs[j] = static_cast<uint8_t>((qs[j] & 0xF0) | q);
  } else {
    qs[j - kQK / 2] = static_cast<uint8_t>((qs[j - kQK / 2] & 0x0F) | q << 4);
  }
}

void EncodeQ4_0(const float* x, BlockQ4_0* y) {
  y->d = F32ToF16(SignedAbsMax(x, kQK) / -8.0f);
  const float d = F16ToF32(y->d);
  for (int j = 0; j < kQK; ++j) PutNibble(y->qs, j, QuantAt(x[j], d, 8, 15));
}

void EncodeQ5_0(const float* x, BlockQ5_0* y) {
  y->d = F32ToF16(SignedAbsMax(x, kQK) / -16.0f);
  const float d = F16ToF32(y->d);
  uint32_t qh = 0;
  for (int j = 0; j < kQK; ++j) {
    const int q = QuantAt(x[j], d, 16, 31);
    PutNibble(y->qs, j, q & 0xF);
    qh |= static_cast<uint32_t>(q >> 4) << j;
  }
  std::memcpy(y->qh, &qh, sizeof qh);
}

// Q4_1/Q5_1: x ≈ d*q + m over the block's range.
template <typename Block>
void EncodeMinBlock(const float* x, int qmax, Block* y, uint32_t* qh) {
  const float lo = *std::min_element(x, x + kQK);
  const float hi = *std::max_element(x, x + kQK);
  y->d = F32ToF16((hi - lo) / static_cast<float>(qmax));
  y->m = F32ToF16(lo);
  const float d = F16ToF32(y->d);
  const float m = F16ToF32(y->m);
  *qh = 0;
  for (int j = 0; j < kQK; ++j) {
    const int q = d == 0.0f ? 0 : Clamp(Round((x[j] - m) / d), 0, qmax);
    PutNibble(y->qs, j, q & 0xF);
    *qh |= static_cast<uint32_t>(q >> 4) << j;
  }
}

void EncodeQ4_1(const float* x, BlockQ4_1* y) {
  uint32_t unused_qh;
  EncodeMinBlock(x, 15, y, &unused_qh);
}

void EncodeQ5_1(const float* x, BlockQ5_1* y) {
  uint32_t qh;
  EncodeMinBlock(x, 31, y, &qh);
  std::memcpy(y->qh, &qh, sizeof qh);
}

void EncodeQ8_0(const float* x, BlockQ8_0* y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  y->d = F32ToF16(amax / 127.0f);
  const float d = F16ToF32(y->d);
  for (int j = 0; j < kQK; ++j) {
    // ±127 keeps the quants symmetric, which the int8 dot kernels rely on.
    y->qs[j] = static_cast<int8_t>(d == 0.0f ? 0 : Clamp(Round(x[j] / d), -127, 127));
  }
}

// ---- non-linear 4-bit --------------------------------------------------------

// Index of the IQ4_NL level nearest to v (levels are sorted ascending).
int NearestIQ4(float v) {
  const int8_t* it = std::lower_bound(kIQ4NLValues, kIQ4NLValues + 16, v,
                                      [](int8_t level, float x) { return level < x; });
  if (it == kIQ4NLValues) return 0;
  if (it == kIQ4NLValues + 16) return 15;
  const int hi = static_cast<int>(it - kIQ4NLValues);
  return (v - static_cast<float>(kIQ4NLValues[hi - 1]) <= static_cast<float>(*it) - v) ? hi - 1
                                                                                       : hi;
}

// Scale d for x ≈ d * level: the extreme value is mapped near either end of the
// level table, and the least-squares refit with the lowest error wins.
float FitNonLinear(const float* x, int n) {
  const float max = SignedAbsMax(x, n);
  if (max == 0.0f) return 0.0f;
  float best_scale = max / static_cast<float>(kIQ4NLValues[0]);
  double best_score = -1.0;
  for (int end = 0; end < 2; ++end) {
    const float level = end == 0 ? static_cast<float>(kIQ4NLValues[0])
                                 : static_cast<float>(kIQ4NLValues[15]);
    for (int t = -8; t <= 8; ++t) {
      const float d = max / (level + static_cast<float>(t));
      double sxv = 0.0;
      double sv2 = 0.0;
      for (int i = 0; i < n; ++i) {
        const double v = kIQ4NLValues[NearestIQ4(x[i] / d)];
        sxv += x[i] * v;
        sv2 += v * v;
      }
      if (sv2 > 0.0 && sxv * sxv / sv2 > best_score) {
        best_score = sxv * sxv / sv2;
        best_scale = static_cast<float>(sxv / sv2);
      }
    }
  }
  return best_scale;
}

void PutIQ4Levels(const float* x, float d, uint8_t* qs) {
  for (int j = 0; j < kQK; ++j) PutNibble(qs, j, d == 0.0f ? 8 : NearestIQ4(x[j] / d));
}

void EncodeIQ4_NL(const float* x, BlockIQ4_NL* y) {
  y->d = F32ToF16(FitNonLinear(x, kQK));
  PutIQ4Levels(x, F16ToF32(y->d), y->qs);
}

void EncodeIQ4_XS(const float* x, BlockIQ4_XS* y) {
  float sub_scale[8];
  for (int s = 0; s < 8; ++s) sub_scale[s] = FitNonLinear(x + 32 * s, 32);
  // Sub-block scales are (ls - 32) * d with ls in [0, 63]: the largest maps to -32.
  y->d = F32ToF16(SignedAbsMax(sub_scale, 8) / -32.0f);
  const float d = F16ToF32(y->d);
  y->scales_h = 0;
  std::memset(y->scales_l, 0, sizeof y->scales_l);
  std::memset(y->qs, 0, sizeof y->qs);
  for (int s = 0; s < 8; ++s) {
    const int ls = d == 0.0f ? 32 : Clamp(Round(sub_scale[s] / d) + 32, 0, 63);
    y->scales_l[s / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (s % 2)));
    y->scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * s));
    PutIQ4Levels(x + 32 * s, d * static_cast<float>(ls - 32), y->qs + 16 * s);
  }
}

// ---- k-quants ----------------------------------------------------------------

// Quantizes the sub-block scales of a k-quant against one f16 super-scale:
// values[s] ≈ super * q[s], q in [0, qmax]. Returns the f16 bits of `super`.
uint16_t QuantizeScales(const float* values, int count, int qmax, int* q) {
  const float max = *std::max_element(values, values + count);
  const uint16_t bits = F32ToF16(max > 0.0f ? max / static_cast<float>(qmax) : 0.0f);
  const float super = F16ToF32(bits);
  for (int s = 0; s < count; ++s) q[s] = super == 0.0f ? 0 : Clamp(Round(values[s] / super), 0, qmax);
  return bits;
}

// Scales and offsets of the sub-blocks of an asymmetric k-quant block (Q2_K,
// Q4_K, Q5_K), then the quants L[] against the decoded values.
void EncodeAsymmetricK(const float* x, int sub_size, int nmax, int scale_max, uint16_t* d_bits,
                       uint16_t* dmin_bits, int* sc, int* mn, uint8_t* L) {
  const int n_sub = kQK_K / sub_size;
  float scales[kQK_K / 16];
  float offsets[kQK_K / 16];
  for (int s = 0; s < n_sub; ++s) {
    FitAsymmetric(x + s * sub_size, sub_size, nmax, &scales[s], &offsets[s]);
  }
  *d_bits = QuantizeScales(scales, n_sub, scale_max, sc);
  *dmin_bits = QuantizeScales(offsets, n_sub, scale_max, mn);
  const float d = F16ToF32(*d_bits);
  const float dmin = F16ToF32(*dmin_bits);
  for (int s = 0; s < n_sub; ++s) {
    const float dl = d * static_cast<float>(sc[s]);
    const float ml = dmin * static_cast<float>(mn[s]);
    for (int i = s * sub_size; i < (s + 1) * sub_size; ++i) {
      L[i] = static_cast<uint8_t>(dl == 0.0f ? 0 : Clamp(Round((x[i] + ml) / dl), 0, nmax));
    }
  }
}

// Writes 2-bit fields in the qs layout shared by Q2_K and Q3_K.
void PackTwoBits(const uint8_t* L, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 4);
  for (int v = 0; v < kQK_K; ++v) {
    qs[32 * (v / 128) + v % 32] |= static_cast<uint8_t>((L[v] & 3) << (2 * ((v % 128) / 32)));
  }
}

void EncodeQ2_K(const float* x, BlockQ2_K* y) {
  int sc[16], mn[16];
  uint8_t L[kQK_K];
  EncodeAsymmetricK(x, 16, 3, 15, &y->d, &y->dmin, sc, mn, L);
  for (int s = 0; s < 16; ++s) y->scales[s] = static_cast<uint8_t>(sc[s] | mn[s] << 4);
  PackTwoBits(L, y->qs);
}

// Packs the eight 6-bit scales and mins of Q4_K/Q5_K into 12 bytes.
void PackKScales(const int* sc, const int* mn, uint8_t* q) {
  std::memset(q, 0, kKScaleBytes);
  for (int s = 0; s < 4; ++s) {
    q[s] = static_cast<uint8_t>(sc[s]);
    q[s + 4] = static_cast<uint8_t>(mn[s]);
  }
  for (int s = 4; s < 8; ++s) {
    q[s + 4] = static_cast<uint8_t>((sc[s] & 0xF) | (mn[s] & 0xF) << 4);
    q[s - 4] |= static_cast<uint8_t>((sc[s] >> 4) << 6);
    q[s] |= static_cast<uint8_t>((mn[s] >> 4) << 6);
  }
}

void PackNibblesK(const uint8_t* L, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 2);
  for (int v = 0; v < kQK_K; ++v) {
    qs[32 * (v / 64) + v % 32] |= static_cast<uint8_t>((L[v] & 0xF) << (4 * ((v / 32) % 2)));
  }
}

void EncodeQ4_K(const float* x, BlockQ4_K* y) {
  int sc[8], mn[8];
  uint8_t L[kQK_K];
  EncodeAsymmetricK(x, 32, 15, 63, &y->d, &y->dmin, sc, mn, L);
  PackKScales(sc, mn, y->scales);
  PackNibblesK(L, y->qs);
}

void EncodeQ5_K(const float* x, BlockQ5_K* y) {
  int sc[8], mn[8];
  uint8_t L[kQK_K];
  EncodeAsymmetricK(x, 32, 31, 63, &y->d, &y->dmin, sc, mn, L);
  PackKScales(sc, mn, y->scales);
  PackNibblesK(L, y->qs);
  std::memset(y->qh, 0, sizeof y->qh);
  for (int v = 0; v < kQK_K; ++v) y->qh[v % 32] |= static_cast<uint8_t>((L[v] >> 4) << (v / 32));
}

// Signed sub-block scales of a symmetric k-quant quantized against one f16
// super-scale: the largest maps to qmin (the side with one more level).
uint16_t QuantizeSignedScales(const float* values, int count, int qmin, int qmax, int* q) {
  const uint16_t bits = F32ToF16(SignedAbsMax(values, count) / static_cast<float>(qmin));
  const float super = F16ToF32(bits);
  for (int s = 0; s < count; ++s) q[s] = super == 0.0f ? 0 : Clamp(Round(values[s] / super), qmin, qmax);
  return bits;
}

void EncodeQ3_K(const float* x, BlockQ3_K* y) {
  float scales[16];
  for (int s = 0; s < 16; ++s) scales[s] = FitSymmetric(x + 16 * s, 16, 4);
  int sc[16];
  y->d = QuantizeSignedScales(scales, 16, -32, 31, sc);
  const float d = F16ToF32(y->d);
  uint8_t L[kQK_K];
  std::memset(y->scales, 0, sizeof y->scales);
  std::memset(y->hmask, 0, sizeof y->hmask);
  for (int s = 0; s < 16; ++s) {
    const int stored = sc[s] + 32;
    y->scales[s % 8] |= static_cast<uint8_t>((stored & 0xF) << (4 * (s / 8)));
    y->scales[8 + s % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (s / 4)));
    const float dl = d * static_cast<float>(sc[s]);
    for (int v = 16 * s; v < 16 * s + 16; ++v) {
      const int q = QuantAt(x[v], dl, 4, 7);
      L[v] = static_cast<uint8_t>(q);
      y->hmask[v % 32] |= static_cast<uint8_t>((q >> 2) << (v / 32));
    }
  }
  PackTwoBits(L, y->qs);
}

void EncodeQ6_K(const float* x, BlockQ6_K* y) {
  float scales[16];
  for (int s = 0; s < 16; ++s) scales[s] = FitSymmetric(x + 16 * s, 16, 32);
  int sc[16];
  y->d = QuantizeSignedScales(scales, 16, -128, 127, sc);
  const float d = F16ToF32(y->d);
  std::memset(y->ql, 0, sizeof y->ql);
  std::memset(y->qh, 0, sizeof y->qh);
  for (int s = 0; s < 16; ++s) {
    y->scales[s] = static_cast<int8_t>(sc[s]);
    const float dl = d * static_cast<float>(sc[s]);
    for (int v = 16 * s; v < 16 * s + 16; ++v) {
      const int q = QuantAt(x[v], dl, 32, 63);
      const int h = v / 128;
      const int r = v % 128;
      y->ql[64 * h + r % 64] |= static_cast<uint8_t>((q & 0xF) << (4 * (r / 64)));
      y->qh[32 * h + r % 32] |= static_cast<uint8_t>((q >> 4) << (2 * (r / 32)));
    }
  }
}

template <typename Block, int kElems>
void EncodeBlocks(void (*encode)(const float*, Block*), const float* x, void* dst, int64_t n) {
  Block* y = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n / kElems; ++i) {
    Block b{};  // zeroed so partial-bit writes start clean
    encode(x + i * kElems, &b);
    std::memcpy(&y[i], &b, sizeof b);
  }
}

}  // namespace

void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n) {
  assert(CanConvert(type));
  assert(n % Traits(type).block_elems == 0);
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        out[i] = type == GgmlType::kF16 ? F32ToF16(src[i]) : F32ToBf16(src[i]);
      }
      return;
    }
    case GgmlType::kQ4_0:
      return EncodeBlocks<BlockQ4_0, kQK>(EncodeQ4_0, src, dst, n);
    case GgmlType::kQ4_1:
      return EncodeBlocks<BlockQ4_1, kQK>(EncodeQ4_1, src, dst, n);
    case GgmlType::kQ5_0:
      return EncodeBlocks<BlockQ5_0, kQK>(EncodeQ5_0, src, dst, n);
    case GgmlType::kQ5_1:
      return EncodeBlocks<BlockQ5_1, kQK>(EncodeQ5_1, src, dst, n);
    case GgmlType::kQ8_0:
      return EncodeBlocks<BlockQ8_0, kQK>(EncodeQ8_0, src, dst, n);
    case GgmlType::kQ2_K:
      return EncodeBlocks<BlockQ2_K, kQK_K>(EncodeQ2_K, src, dst, n);
    case GgmlType::kQ3_K:
      return EncodeBlocks<BlockQ3_K, kQK_K>(EncodeQ3_K, src, dst, n);
    case GgmlType::kQ4_K:
      return EncodeBlocks<BlockQ4_K, kQK_K>(EncodeQ4_K, src, dst, n);
    case GgmlType::kQ5_K:
      return EncodeBlocks<BlockQ5_K, kQK_K>(EncodeQ5_K, src, dst, n);
    case GgmlType::kQ6_K:
      return EncodeBlocks<BlockQ6_K, kQK_K>(EncodeQ6_K, src, dst, n);
    case GgmlType::kIQ4_NL:
      return EncodeBlocks<BlockIQ4_NL, kQK>(EncodeIQ4_NL, src, dst, n);
    case GgmlType::kIQ4_XS:
      return EncodeBlocks<BlockIQ4_XS, kQK_K>(EncodeIQ4_XS, src, dst, n);
    default:
      return;  // unreachable for handled types (asserted above)
  }
}

absl::StatusOr<std::vector<uint8_t>> Quantize(GgmlType type, std::span<const float> values,
                                              int64_t row_length) {
  if (!CanConvert(type)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot quantize to tensor type %s", TypeName(type)));
  }
  const int64_t row_bytes = row_length > 0 ? RowBytes(type, row_length) : -1;
  if (row_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("row length %d is not a positive multiple of the %s block size %d",
                        row_length, TypeName(type), Traits(type).block_elems));
  }
  const int64_t count = static_cast<int64_t>(values.size());
  if (count % row_length != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d values do not make whole rows of %d", count, row_length));
  }
  const int64_t rows = count / row_length;
  std::vector<uint8_t> out(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeRow(type, values.data() + r * row_length, out.data() + r * row_bytes, row_length);
  }
  return out;
}

}  // namespace tinyrag
