// Byte layouts of the GGML quantization blocks, as stored in GGUF files.
//
// These structs are the on-disk format: packed little-endian, no padding
// (static_asserts below pin the sizes). Half-precision scales are stored as raw
// IEEE binary16 bits in uint16_t; convert with model/half.h.
#pragma once

#include <cstdint>

namespace tinyrag {

inline constexpr int kQK = 32;     // values per block of the 32-wide formats
inline constexpr int kQK_K = 256;  // values per super-block of the k-quants
inline constexpr int kKScaleBytes = 12;  // packed 6-bit scales/mins of Q4_K, Q5_K

// Value index j in a 32-value block; "nibble order as Q4_0" below means: qs[j]
// low nibble holds value j and high nibble value j+16 (j < 16).
// x = d * (q - 8), q in [0,16).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// x = d * q + m, q in [0,16); nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
// x = d * (q - 16), q = nibble | (bit j of qh) << 4 for value j (0..31), qh read
// as a little-endian uint32; nibble order as Q4_0.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x = d * q + m, q in [0,32) built as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x = d * q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation format: x = d * q, s = d * sum(q).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// The 2- and 3-bit k-quants store value v (0..255) of a super-block in
// qs[32 * (v / 128) + v % 32] at bit shift 2 * ((v % 128) / 32); its sub-block
// (of 16) is v / 16.
// Q2_K: x = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4), s = v / 16, q 2-bit.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
// Q3_K: x = (d * (sc[s] - 32)) * (q - 4) with q = low 2 bits (qs, as Q2_K) |
// 4 * (bit v / 32 of hmask[v % 32]), s = v / 16. The 6-bit sc[s] is packed in
// 12 bytes: low 4 bits = scales[s % 8] >> (4 * (s / 8)), high 2 bits =
// scales[8 + s % 4] >> (2 * (s / 4)).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 8 sub-blocks of 32 with 6-bit scales sc[s] and mins mn[s] packed in 12 bytes:
// for s < 4, sc = scales[s] & 63 and mn = scales[s + 4] & 63; for s >= 4,
// sc = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4 and
// mn = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4.
// Q4_K: x = (d * sc[s]) * q - (dmin * mn[s]), s = v / 32; value v is in
// qs[32 * (v / 64) + v % 32], low nibble when (v / 32) is even, else high.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit per value: q += 16 * (bit v / 32 of qh[v % 32]).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// x = (d * scales[v / 16]) * (q - 32), q 6-bit. With h = v / 128, r = v % 128:
// low 4 bits in ql[64 * h + r % 64] (low nibble when r < 64, else high), high
// 2 bits in qh[32 * h + r % 32] at bit shift 2 * (r / 32).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activation format of the k-quant dot products: float scale, sums of 16-value groups.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
// Non-linear 4-bit: x = d * kIQ4NLValues[q]; nibble order as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// IQ4_NL values in 8 sub-blocks of 32: x = (d * (ls - 32)) * kIQ4NLValues[q] with
// ls = (scales_l[s / 2] >> (4 * (s % 2))) & 15 | ((scales_h >> (2 * s)) & 3) << 4;
// nibble order inside each sub-block as Q4_0.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

// The 16 levels of IQ4_NL and IQ4_XS.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);

}  // namespace tinyrag
