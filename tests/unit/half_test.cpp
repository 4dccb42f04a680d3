// IEEE binary16 and bfloat16 conversions (model/half.h): exhaustive over all
// 65536 encodings, compared with the compiler's _Float16 and an independent
// nearest-even rounding written with doubles.
#include "model/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace tinyrag {
namespace {

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

bool IsHalfNan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

// Decodes binary16 with plain arithmetic, independent of the bit-twiddling in half.h.
double HalfValue(uint16_t h) {
  const int sign = (h & 0x8000u) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(mant), -24);
  if (exp == 31) return mant ? std::numeric_limits<double>::quiet_NaN()
                             : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(static_cast<double>(mant + 1024), exp - 25);
}

TEST(HalfTest, F16ToF32MatchesArithmeticDecodeForAllEncodings) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    const double expected = HalfValue(static_cast<uint16_t>(h));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(f)) << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), expected) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;
    }
  }
}

TEST(HalfTest, F16RoundTripsThroughF32ForAllEncodings) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = F32ToF16(F16ToF32(static_cast<uint16_t>(h)));
    if (IsHalfNan(static_cast<uint16_t>(h))) {
      EXPECT_TRUE(IsHalfNan(back)) << h;
    } else {
      EXPECT_EQ(back, h) << h;
    }
  }
}

#if defined(__FLT16_MAX__)
TEST(HalfTest, MatchesCompilerFloat16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if (IsHalfNan(static_cast<uint16_t>(h))) continue;
    _Float16 c;
    const uint16_t bits = static_cast<uint16_t>(h);
    std::memcpy(&c, &bits, sizeof c);
    EXPECT_EQ(Bits(F16ToF32(bits)), Bits(static_cast<float>(c))) << h;
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000000; ++i) {
    const float f = FromBits(rng());
    if (std::isnan(f)) continue;
    const _Float16 c = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &c, sizeof expected);
    ASSERT_EQ(F32ToF16(f), expected) << f;
  }
}
#endif

TEST(HalfTest, F32ToF16RoundsToNearestEven) {
  // Exactly halfway between 1 and the next half (1 + 2^-10): ties go to the even one.
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(F32ToF16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  EXPECT_EQ(F32ToF16(-1.0f - std::ldexp(1.0f, -11)), 0xbc00);
  // Largest finite half and overflow: 65520 is halfway to 65536 and rounds to infinity.
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(F32ToF16(1e10f), 0x7c00);
  EXPECT_EQ(F32ToF16(-1e10f), 0xfc00);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(F32ToF16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(IsHalfNan(F32ToF16(std::numeric_limits<float>::quiet_NaN())));
}

TEST(HalfTest, F32ToF16Subnormals) {
  const float unit = std::ldexp(1.0f, -24);  // smallest subnormal half
  EXPECT_EQ(F32ToF16(unit), 0x0001);
  EXPECT_EQ(F32ToF16(unit / 2), 0x0000);                             // tie to even: 0
  EXPECT_EQ(F32ToF16(std::nextafter(unit / 2, 1.0f)), 0x0001);       // just above the tie
  EXPECT_EQ(F32ToF16(1.5f * unit), 0x0002);                          // tie to even: 2
  EXPECT_EQ(F32ToF16(2.5f * unit), 0x0002);                          // tie to even: 2
  EXPECT_EQ(F32ToF16(1023.5f * unit), 0x0400);                       // rounds up into the normals
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -14)), 0x0400);                // smallest normal
  EXPECT_EQ(F32ToF16(-unit), 0x8001);
  EXPECT_EQ(F32ToF16(1e-30f), 0x0000);
  EXPECT_EQ(F32ToF16(-1e-30f), 0x8000);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

// Nearest-even bfloat16 computed by comparing the two candidate neighbours.
uint16_t ReferenceBf16(float f) {
  const uint32_t b = Bits(f);
  const uint32_t lo = b & 0xffff0000u;
  const uint32_t hi = lo + 0x10000u;
  const double dlo = std::fabs(static_cast<double>(FromBits(lo)) - f);
  const double dhi = std::isinf(FromBits(hi))
                         ? std::fabs(std::ldexp(1.0, 128) * (f < 0 ? -1 : 1) - f)
                         : std::fabs(static_cast<double>(FromBits(hi)) - f);
  if (dlo < dhi) return static_cast<uint16_t>(lo >> 16);
  if (dhi < dlo) return static_cast<uint16_t>(hi >> 16);
  return static_cast<uint16_t>(((lo >> 16) & 1) ? hi >> 16 : lo >> 16);
}

TEST(HalfTest, Bf16ExhaustiveAndRounding) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Bf16ToF32(static_cast<uint16_t>(h));
    EXPECT_EQ(Bits(f), h << 16);
    if (!std::isnan(f)) {
      EXPECT_EQ(F32ToBf16(f), h) << h;
    }
  }
  EXPECT_EQ(F32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie to even
  EXPECT_EQ(F32ToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie to even (up)
  const uint16_t nan = F32ToBf16(FromBits(0x7f800001u));            // signalling NaN
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x0040, 0);  // quiet bit set
  std::mt19937 rng(99);
  for (int i = 0; i < 1000000; ++i) {
    const float f = FromBits(rng());
    if (std::isnan(f) || std::isinf(f)) continue;
    ASSERT_EQ(F32ToBf16(f), ReferenceBf16(f)) << f;
  }
}

}  // namespace
}  // namespace tinyrag
