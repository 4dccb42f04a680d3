// Quantizers: round trips of random data within per-type error bounds, exact
// reproduction of already-quantized blocks, and the checked API's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/half.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"
#include "model/tensor_type.h"

namespace tinyrag {
namespace {

// Standard normal values from mt19937 (whose output the standard fixes) via Box-Muller.
std::vector<float> Gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; i += 2) {
    const double u1 = (rng() + 1.0) / 4294967297.0;
    const double u2 = rng() / 4294967296.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
  }
  return out;
}

double RelativeRmsError(GgmlType type, const std::vector<float>& x, int64_t row) {
  auto q = Quantize(type, x, row);
  EXPECT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(static_cast<int64_t>(q->size()), RowBytes(type, row) * static_cast<int64_t>(x.size()) / row);
  auto y = Dequantize(type, *q, static_cast<int64_t>(x.size()));
  EXPECT_TRUE(y.ok()) << y.status();
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>((*y)[i]) - x[i]) * ((*y)[i] - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

struct Bound {
  GgmlType type;
  double max_rel_rms;
};

TEST(QuantizeTest, RoundTripErrorWithinBounds) {
  const std::vector<float> x = Gaussian(512 * 64, 7);
  // Bounds sit a little above what these quantizers achieve on Gaussian data,
  // and well below what a wrong nibble order or scale packing would give.
  const Bound bounds[] = {
      {GgmlType::kF32, 0.0},      {GgmlType::kF16, 4e-4},     {GgmlType::kBF16, 3e-3},
      {GgmlType::kQ8_0, 0.009},   {GgmlType::kQ6_K, 0.022},   {GgmlType::kQ5_0, 0.05},
      {GgmlType::kQ5_1, 0.05},    {GgmlType::kQ5_K, 0.045},   {GgmlType::kQ4_0, 0.11},
      {GgmlType::kQ4_1, 0.10},    {GgmlType::kQ4_K, 0.09},    {GgmlType::kIQ4_NL, 0.10},
      {GgmlType::kIQ4_XS, 0.10},  {GgmlType::kQ3_K, 0.17},    {GgmlType::kQ2_K, 0.32},
  };
  for (const Bound& b : bounds) {
    const double rel = RelativeRmsError(b.type, x, 512);
    EXPECT_LE(rel, b.max_rel_rms) << TypeName(b.type);
    std::printf("%-7s relative RMS error %.5f\n", std::string(TypeName(b.type)).c_str(), rel);
  }
}

TEST(QuantizeTest, ScaledAndShiftedDataKeepsRelativeError) {
  // Data with an offset and a small scale exercises the mins of the k-quants.
  std::vector<float> x = Gaussian(256 * 16, 11);
  for (float& v : x) v = 0.01f * v + 0.02f;
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ4_1, GgmlType::kQ2_K}) {
    EXPECT_LE(RelativeRmsError(t, x, 256), t == GgmlType::kQ2_K ? 0.3 : 0.08) << TypeName(t);
  }
}

TEST(QuantizeTest, ZeroAndConstantBlocks) {
  for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                     GgmlType::kQ8_0, GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K,
                     GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_NL, GgmlType::kIQ4_XS}) {
    std::vector<float> zeros(256, 0.0f);
    auto q = Quantize(t, zeros, 256);
    ASSERT_TRUE(q.ok());
    auto y = Dequantize(t, *q, 256);
    ASSERT_TRUE(y.ok());
    for (float v : *y) EXPECT_EQ(v, 0.0f) << TypeName(t);

    std::vector<float> constant(256, 0.75f);
    q = Quantize(t, constant, 256);
    y = Dequantize(t, *q, 256);
    for (float v : *y) EXPECT_NEAR(v, 0.75f, 0.75f * 0.02) << TypeName(t);
  }
}

// Random blocks whose quants include the code that maps to the extreme value;
// quantizing their decoded values must give back the same bytes.
std::vector<uint8_t> RandomBlocks(GgmlType type, int count, std::mt19937& rng) {
  std::vector<uint8_t> out;
  for (int b = 0; b < count; ++b) {
    std::vector<uint8_t> blk(static_cast<size_t>(Traits(type).block_bytes));
    // Scale: a random normal f16 in about [2^-8, 4), random sign.
    const uint16_t d = static_cast<uint16_t>(((rng() % 10) + 7) << 10 | (rng() & 0x3ff) |
                                             (rng() & 1) << 15);
    std::memcpy(blk.data(), &d, 2);
    const int extreme = static_cast<int>(rng() % 32);
    switch (type) {
      case GgmlType::kQ4_0:
      case GgmlType::kIQ4_NL:
        for (int j = 0; j < 16; ++j) blk[2 + j] = static_cast<uint8_t>(rng());
        blk[2 + extreme % 16] &= extreme < 16 ? 0xF0 : 0x0F;  // code 0: -8d / -127d
        break;
      case GgmlType::kQ5_0: {
        for (int j = 0; j < 20; ++j) blk[2 + j] = static_cast<uint8_t>(rng());
        blk[2 + extreme / 8] &= static_cast<uint8_t>(~(1u << (extreme % 8)));  // code 0: -16d
        blk[6 + extreme % 16] &= extreme < 16 ? 0xF0 : 0x0F;
        break;
      }
      case GgmlType::kQ8_0: {
        const uint16_t dpos = d & 0x7fff;  // Q8_0 scales are positive (absmax / 127)
        std::memcpy(blk.data(), &dpos, 2);
        for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(rng() % 255 - 127));
        blk[2 + extreme] = static_cast<uint8_t>(static_cast<int8_t>((rng() & 1) ? 127 : -127));
        break;
      }
      case GgmlType::kQ4_1:
      case GgmlType::kQ5_1: {
        // m = 0 and positive d: codes 0 and qmax present, so min and max give d back exactly.
        const uint16_t dpos = d & 0x7fff;
        std::memcpy(blk.data(), &dpos, 2);
        blk[2] = blk[3] = 0;
        const bool five = type == GgmlType::kQ5_1;
        const size_t qs = five ? 8 : 4;
        for (size_t j = 4; j < blk.size(); ++j) blk[j] = static_cast<uint8_t>(rng());
        blk[qs + 0] = static_cast<uint8_t>((blk[qs + 0] & 0xF0) | 0x0);
        blk[qs + 1] = static_cast<uint8_t>((blk[qs + 1] & 0xF0) | 0xF);
        if (five) {
          blk[4] = static_cast<uint8_t>((blk[4] & 0xFC) | 0x2);  // value 0: 0, value 1: 31
        }
        break;
      }
      default:
        ADD_FAILURE() << "no generator for " << TypeName(type);
    }
    out.insert(out.end(), blk.begin(), blk.end());
  }
  return out;
}

TEST(QuantizeTest, RequantizingDecodedBlocksIsExact) {
  std::mt19937 rng(2024);
  for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kIQ4_NL,
                     GgmlType::kQ4_1, GgmlType::kQ5_1}) {
    const int blocks = 200;
    const std::vector<uint8_t> q = RandomBlocks(t, blocks, rng);
    auto x = Dequantize(t, q, 32 * blocks);
    ASSERT_TRUE(x.ok());
    auto again = Quantize(t, *x, 32 * blocks);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, q) << TypeName(t);
  }
}

TEST(QuantizeTest, RowsAreIndependent) {
  // Two rows quantized together equal each row quantized alone.
  const std::vector<float> x = Gaussian(512, 3);
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ8_0, GgmlType::kF16}) {
    auto both = Quantize(t, x, 256);
    auto first = Quantize(t, std::span<const float>(x).first(256), 256);
    auto second = Quantize(t, std::span<const float>(x).last(256), 256);
    ASSERT_TRUE(both.ok() && first.ok() && second.ok());
    std::vector<uint8_t> joined = *first;
    joined.insert(joined.end(), second->begin(), second->end());
    EXPECT_EQ(*both, joined) << TypeName(t);
  }
}

TEST(QuantizeTest, CheckedApiRejectsBadInput) {
  const std::vector<float> x(512, 1.0f);
  EXPECT_FALSE(Quantize(GgmlType::kQ4_K, x, 128).ok());  // row not a multiple of 256
  EXPECT_FALSE(Quantize(GgmlType::kQ8_0, x, 96).ok());   // 512 is not whole rows of 96
  EXPECT_FALSE(Quantize(GgmlType::kQ8_0, x, 0).ok());
  EXPECT_FALSE(Quantize(GgmlType::kIQ2_XXS, x, 256).ok());
  EXPECT_TRUE(Quantize(GgmlType::kQ8_0, x, 128).ok());
}

}  // namespace
}  // namespace tinyrag
