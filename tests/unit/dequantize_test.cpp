// Dequantization of hand-built blocks: each test writes a block's bytes field
// by field at the GGML byte offsets, packing the quants the way GGML's
// reference quantizers do, and computes the expected values by hand.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "model/half.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"
#include "model/tensor_type.h"

namespace tinyrag {
namespace {

void PutU16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v & 0xff);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

// Scales that are not powers of two, so the float operation order matters.
constexpr uint16_t kThird = 0x3555;    // ~0.33325
constexpr uint16_t kSeventh = 0x2c92;  // ~0.0714
constexpr uint16_t kNegHalf = 0xb800;  // -0.5

std::vector<float> Decode(GgmlType type, const std::vector<uint8_t>& bytes, int64_t n) {
  EXPECT_EQ(RowBytes(type, n), static_cast<int64_t>(bytes.size()));
  auto out = Dequantize(type, bytes, n);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<float>(n);
}

void ExpectSame(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    EXPECT_EQ(a, b) << "value " << i << ": got " << got[i] << ", want " << want[i];
  }
}

TEST(DequantizeTest, PlainTypes) {
  std::vector<uint8_t> f32(8);
  const float vals[2] = {1.5f, -3.25f};
  std::memcpy(f32.data(), vals, 8);
  ExpectSame(Decode(GgmlType::kF32, f32, 2), {1.5f, -3.25f});

  std::vector<uint8_t> f16(6);
  PutU16(f16, 0, 0x3c00);  // 1
  PutU16(f16, 2, 0xc500);  // -5
  PutU16(f16, 4, 0x0001);  // 2^-24
  ExpectSame(Decode(GgmlType::kF16, f16, 3), {1.0f, -5.0f, 5.9604644775390625e-8f});

  std::vector<uint8_t> bf16(4);
  PutU16(bf16, 0, 0x3fc0);  // 1.5
  PutU16(bf16, 2, 0xc2f7);  // -123.5
  ExpectSame(Decode(GgmlType::kBF16, bf16, 2), {1.5f, -123.5f});
}

TEST(DequantizeTest, Q4_0) {
  std::vector<uint8_t> b(18 * 2);
  std::vector<float> want(64);
  for (int blk = 0; blk < 2; ++blk) {
    const uint16_t dbits = blk == 0 ? kThird : kNegHalf;
    const float d = F16ToF32(dbits);
    PutU16(b, 18 * blk, dbits);
    for (int j = 0; j < 16; ++j) {
      const int lo = (j + blk) & 15;
      const int hi = 15 - j;
      b[18 * blk + 2 + j] = static_cast<uint8_t>(lo | hi << 4);
      want[32 * blk + j] = static_cast<float>(lo - 8) * d;
      want[32 * blk + j + 16] = static_cast<float>(hi - 8) * d;
    }
  }
  ExpectSame(Decode(GgmlType::kQ4_0, b, 64), want);
  EXPECT_EQ(want[0], -8 * F16ToF32(kThird));
}

TEST(DequantizeTest, Q4_1) {
  std::vector<uint8_t> b(20);
  PutU16(b, 0, kThird);
  PutU16(b, 2, 0xbc00);  // m = -1
  std::vector<float> want(32);
  const float d = F16ToF32(kThird);
  for (int j = 0; j < 16; ++j) {
    b[4 + j] = static_cast<uint8_t>(j | (15 - j) << 4);
    want[j] = static_cast<float>(j) * d + -1.0f;
    want[j + 16] = static_cast<float>(15 - j) * d + -1.0f;
  }
  ExpectSame(Decode(GgmlType::kQ4_1, b, 32), want);
}

TEST(DequantizeTest, Q5_0AndQ5_1) {
  const uint32_t qh = 0xA5A5F00Fu;  // fifth bit of value j is bit j
  std::vector<uint8_t> b0(22), b1(24);
  PutU16(b0, 0, kSeventh);
  PutU16(b1, 0, kSeventh);
  PutU16(b1, 2, 0x4100);  // m = 2.5
  for (int i = 0; i < 4; ++i) {
    b0[2 + i] = static_cast<uint8_t>(qh >> (8 * i));
    b1[4 + i] = static_cast<uint8_t>(qh >> (8 * i));
  }
  std::vector<float> want0(32), want1(32);
  const float d = F16ToF32(kSeventh);
  for (int j = 0; j < 16; ++j) {
    const int lo = (3 * j) & 15;
    const int hi = (5 * j + 1) & 15;
    b0[6 + j] = b1[8 + j] = static_cast<uint8_t>(lo | hi << 4);
    const int q_lo = lo | static_cast<int>((qh >> j) & 1) << 4;
    const int q_hi = hi | static_cast<int>((qh >> (j + 16)) & 1) << 4;
    want0[j] = static_cast<float>(q_lo - 16) * d;
    want0[j + 16] = static_cast<float>(q_hi - 16) * d;
    want1[j] = static_cast<float>(q_lo) * d + 2.5f;
    want1[j + 16] = static_cast<float>(q_hi) * d + 2.5f;
  }
  ExpectSame(Decode(GgmlType::kQ5_0, b0, 32), want0);
  ExpectSame(Decode(GgmlType::kQ5_1, b1, 32), want1);
}

TEST(DequantizeTest, Q8_0) {
  std::vector<uint8_t> b(34);
  PutU16(b, 0, kThird);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) {
    const int8_t q = static_cast<int8_t>(j * 8 - 128);
    b[2 + j] = static_cast<uint8_t>(q);
    want[j] = static_cast<float>(q) * F16ToF32(kThird);
  }
  ExpectSame(Decode(GgmlType::kQ8_0, b, 32), want);
}

TEST(DequantizeTest, IQ4_NL) {
  std::vector<uint8_t> b(18);
  PutU16(b, 0, kSeventh);
  const int levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    b[2 + j] = static_cast<uint8_t>(j | (15 - j) << 4);
    want[j] = F16ToF32(kSeventh) * static_cast<float>(levels[j]);
    want[j + 16] = F16ToF32(kSeventh) * static_cast<float>(levels[15 - j]);
  }
  ExpectSame(Decode(GgmlType::kIQ4_NL, b, 32), want);
}

// Packs 256 2-bit values the way GGML's Q2_K/Q3_K quantizers fill qs.
void PackQs2(const int* L, uint8_t* qs) {
  for (int j = 0; j < 256; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>((L[j + l] & 3) | (L[j + l + 32] & 3) << 2 |
                                           (L[j + l + 64] & 3) << 4 | (L[j + l + 96] & 3) << 6);
    }
  }
}

TEST(DequantizeTest, Q2_K) {
  // Layout: scales[16] @0, qs[64] @16, d @80, dmin @82.
  std::vector<uint8_t> b(84);
  int L[256];
  for (int v = 0; v < 256; ++v) L[v] = (v * 7 + v / 64) & 3;
  int sc[16], mn[16];
  for (int s = 0; s < 16; ++s) {
    sc[s] = (s * 5 + 1) & 15;
    mn[s] = (15 - s) & 15;
    b[s] = static_cast<uint8_t>(sc[s] | mn[s] << 4);
  }
  PackQs2(L, &b[16]);
  PutU16(b, 80, kThird);
  PutU16(b, 82, kSeventh);
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const float dl = F16ToF32(kThird) * static_cast<float>(sc[v / 16]);
    const float ml = F16ToF32(kSeventh) * static_cast<float>(mn[v / 16]);
    want[v] = dl * static_cast<float>(L[v]) - ml;
  }
  ExpectSame(Decode(GgmlType::kQ2_K, b, 256), want);
}

TEST(DequantizeTest, Q3_K) {
  // Layout: hmask[32] @0, qs[64] @32, scales[12] @96, d @108.
  std::vector<uint8_t> b(110);
  int q[256];  // 0..7, value q - 4
  for (int v = 0; v < 256; ++v) q[v] = (v * 3 + v / 32) & 7;
  int sc[16];  // 6-bit stored scales, value sc - 32
  for (int s = 0; s < 16; ++s) sc[s] = (s * 11 + 5) & 63;
  for (int j = 0; j < 16; ++j) {
    const int l = sc[j];
    if (j < 8) {
      b[96 + j] = static_cast<uint8_t>(l & 0xF);
    } else {
      b[96 + j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    }
    b[96 + 8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
  // High bits: value j's bit goes to hmask[j % 32], bit j / 32.
  int low[256];
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < 256; ++j) {
    low[j] = q[j] & 3;
    if (q[j] > 3) b[m] |= hm;
    if (++m == 32) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  PackQs2(low, &b[32]);
  PutU16(b, 108, kThird);
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const float dl = F16ToF32(kThird) * static_cast<float>(sc[v / 16] - 32);
    want[v] = dl * static_cast<float>(q[v] - 4);
  }
  ExpectSame(Decode(GgmlType::kQ3_K, b, 256), want);
}

// Packs eight 6-bit scales and mins as GGML's Q4_K/Q5_K quantizers do.
void PackScales(const int* ls, const int* lm, uint8_t* s) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = static_cast<uint8_t>(ls[j]);
      s[j + 4] = static_cast<uint8_t>(lm[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

TEST(DequantizeTest, Q4_K) {
  // Layout: d @0, dmin @2, scales[12] @4, qs[128] @16.
  std::vector<uint8_t> b(144);
  PutU16(b, 0, kThird);
  PutU16(b, 2, kSeventh);
  const int ls[8] = {1, 63, 17, 40, 33, 62, 5, 48};
  const int lm[8] = {0, 12, 63, 31, 50, 7, 60, 19};
  PackScales(ls, lm, &b[4]);
  int L[256];
  for (int v = 0; v < 256; ++v) L[v] = (v * 5 + v / 32) & 15;
  uint8_t* q = &b[16];
  for (int j = 0; j < 256; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | L[j + l + 32] << 4);
    q += 32;
  }
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const float d1 = F16ToF32(kThird) * static_cast<float>(ls[v / 32]);
    const float m1 = F16ToF32(kSeventh) * static_cast<float>(lm[v / 32]);
    want[v] = d1 * static_cast<float>(L[v]) - m1;
  }
  ExpectSame(Decode(GgmlType::kQ4_K, b, 256), want);
}

TEST(DequantizeTest, Q5_K) {
  // Layout: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48.
  std::vector<uint8_t> b(176);
  PutU16(b, 0, kSeventh);
  PutU16(b, 2, kThird);
  const int ls[8] = {63, 2, 44, 16, 32, 61, 9, 27};
  const int lm[8] = {5, 63, 0, 38, 49, 21, 56, 13};
  PackScales(ls, lm, &b[4]);
  int L[256];
  for (int v = 0; v < 256; ++v) L[v] = (v * 13 + v / 16) & 31;
  uint8_t* qh = &b[16];
  uint8_t* ql = &b[48];
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < 256; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = static_cast<uint8_t>(l1 | l2 << 4);
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    ql += 32;
  }
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const float d1 = F16ToF32(kSeventh) * static_cast<float>(ls[v / 32]);
    const float mm = F16ToF32(kThird) * static_cast<float>(lm[v / 32]);
    want[v] = d1 * static_cast<float>(L[v]) - mm;
  }
  ExpectSame(Decode(GgmlType::kQ5_K, b, 256), want);
}

TEST(DequantizeTest, Q6_K) {
  // Layout: ql[128] @0, qh[64] @128, scales[16] @192 (int8), d @208.
  std::vector<uint8_t> b(210);
  int L[256];  // 0..63, value L - 32
  for (int v = 0; v < 256; ++v) L[v] = (v * 37 + v / 64) & 63;
  const int sc[16] = {-128, 127, -1, 1, 45, -77, 0, 100, -3, 64, -64, 12, 99, -100, 7, -9};
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc[s]));
  uint8_t* ql = &b[0];
  uint8_t* qh = &b[128];
  for (int j = 0; j < 256; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
      const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[l] = static_cast<uint8_t>(q1 | q3 << 4);
      ql[l + 32] = static_cast<uint8_t>(q2 | q4 << 4);
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 |
                                   (L[j + l + 64] >> 4) << 4 | (L[j + l + 96] >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
  PutU16(b, 208, kSeventh);
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    want[v] = F16ToF32(kSeventh) * static_cast<float>(sc[v / 16]) * static_cast<float>(L[v] - 32);
  }
  ExpectSame(Decode(GgmlType::kQ6_K, b, 256), want);
}

TEST(DequantizeTest, IQ4_XS) {
  // Layout: d @0, scales_h @2, scales_l[4] @4, qs[128] @8.
  std::vector<uint8_t> b(136);
  PutU16(b, 0, kThird);
  const int ls[8] = {0, 63, 32, 31, 17, 48, 1, 40};  // value ls - 32
  uint16_t scales_h = 0;
  for (int ib = 0; ib < 8; ++ib) {
    b[4 + ib / 2] |= static_cast<uint8_t>((ls[ib] & 0xF) << (4 * (ib % 2)));
    scales_h |= static_cast<uint16_t>((ls[ib] >> 4) << (2 * ib));
  }
  PutU16(b, 2, scales_h);
  int L[256];
  for (int v = 0; v < 256; ++v) L[v] = (v * 9 + v / 32) & 15;
  for (int ib = 0; ib < 8; ++ib) {
    for (int j = 0; j < 16; ++j) {
      b[8 + 16 * ib + j] = static_cast<uint8_t>(L[32 * ib + j] | L[32 * ib + j + 16] << 4);
    }
  }
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const float dl = F16ToF32(kThird) * static_cast<float>(ls[v / 32] - 32);
    want[v] = dl * static_cast<float>(kIQ4NLValues[L[v]]);
  }
  ExpectSame(Decode(GgmlType::kIQ4_XS, b, 256), want);
}

TEST(DequantizeTest, RowOfSeveralBlocksAndUnalignedInput) {
  // Two Q8_0 blocks, read from an odd address: the checked API copies to alignment.
  std::vector<uint8_t> storage(1 + 68);
  std::vector<float> want(64);
  for (int blk = 0; blk < 2; ++blk) {
    uint8_t* p = &storage[1 + 34 * blk];
    const uint16_t dbits = blk ? kSeventh : kThird;
    p[0] = dbits & 0xff;
    p[1] = dbits >> 8;
    for (int j = 0; j < 32; ++j) {
      p[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16 * blk));
      want[32 * blk + j] = static_cast<float>(j - 16 * blk) * F16ToF32(dbits);
    }
  }
  auto got = Dequantize(GgmlType::kQ8_0, std::span<const uint8_t>(storage).subspan(1), 64);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, want);
}

TEST(DequantizeTest, CheckedApiRejectsBadInput) {
  std::vector<uint8_t> b(18);
  EXPECT_FALSE(Dequantize(GgmlType::kQ4_0, b, 16).ok());   // not a whole block
  EXPECT_FALSE(Dequantize(GgmlType::kQ4_0, b, 64).ok());   // too few bytes
  EXPECT_FALSE(Dequantize(GgmlType::kQ4_0, b, -32).ok());  // negative count
  EXPECT_FALSE(Dequantize(GgmlType::kIQ2_XXS, b, 256).ok());
  EXPECT_TRUE(Dequantize(GgmlType::kQ4_0, b, 32).ok());
  EXPECT_TRUE(Dequantize(GgmlType::kQ4_0, {}, 0).ok());
  EXPECT_FALSE(CanConvert(GgmlType::kQ8_K));
  EXPECT_TRUE(CanConvert(GgmlType::kIQ4_XS));
}

}  // namespace
}  // namespace tinyrag
