#include "model/quad_layout.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "model/half.h"
#include "model/kernels.h"
#include "model/quantize.h"
#include "tests/unit/random_weights.h"

namespace tinyrag {
namespace {

constexpr GgmlType kQuadTypes[] = {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0};

using testing_data::RandomActivations;

// Dense random rows (RandomWeights without its trailing guard byte).
std::vector<uint8_t> RandomRows(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::vector<uint8_t> data = testing_data::RandomWeights(t, rows, cols, RowBytes(t, cols), seed);
  data.resize(rows * RowBytes(t, cols));
  return data;
}

// Value x of block j of a quad in the layout, read as the header describes
// it (written independently of quad_layout.cpp): the signed level times d.
float LayoutValue(GgmlType t, const uint8_t* quad, int j, int x) {
  uint16_t h;
  std::memcpy(&h, quad + 2 * j, 2);
  const float d = F16ToF32(h);
  const int k = x / 8, p = 8 * j + x % 8;
  auto nibble = [&](const uint8_t* nibbles) {
    const uint8_t byte = nibbles[(k % 2) * 32 + p];
    return k < 2 ? byte & 15 : byte >> 4;
  };
  switch (t) {
    case GgmlType::kQ4_0:
      return d * static_cast<float>(nibble(quad + 8) - 8);
    case GgmlType::kQ5_0: {
      uint32_t high;
      std::memcpy(&high, quad + 8 + 4 * k, 4);
      return d * static_cast<float>(nibble(quad + 24) + 16 * static_cast<int>((high >> p) & 1) - 16);
    }
    default:
      return d * static_cast<float>(static_cast<int>(quad[8 + 32 * k + p]) - 128);
  }
}

TEST(QuadLayoutTest, FollowsTheDescribedLayoutAndConvertsBackExactly) {
  for (GgmlType t : kQuadTypes) {
    const int64_t cols = 384;
    const std::vector<uint8_t> ggml = RandomRows(t, 1, cols, 1);
    std::vector<uint8_t> quads(ggml.size()), back(ggml.size());
    GgmlRowToQuads(t, ggml.data(), quads.data(), cols);
    QuadsRowToGgml(t, quads.data(), back.data(), cols);
    EXPECT_EQ(back, ggml) << TypeName(t);
    std::vector<float> want(cols);
    DequantizeRow(t, ggml.data(), want.data(), cols);
    for (int64_t q = 0; q < cols / 128; ++q) {
      for (int j = 0; j < 4; ++j) {
        for (int x = 0; x < 32; ++x) {
          ASSERT_EQ(LayoutValue(t, quads.data() + q * QuadBytes(t), j, x), want[128 * q + 32 * j + x])
              << TypeName(t) << " quad " << q << " block " << j << " value " << x;
        }
      }
    }
  }
}

TEST(QuadLayoutTest, ApplicableOnlyToWholeQuadsOfItsTypes) {
  const bool vnni = ActiveCpuLevel() == CpuLevel::kAvx512 && DetectCpuFeatures().avx512_vnni;
  EXPECT_EQ(PrefersQuadLayout(DenseWeights(GgmlType::kQ5_0, 8, 896, nullptr)), vnni);
  EXPECT_EQ(PrefersQuadLayout(DenseWeights(GgmlType::kQ8_0, 8, 128, nullptr)), vnni);
  EXPECT_FALSE(PrefersQuadLayout(DenseWeights(GgmlType::kQ5_0, 8, 800, nullptr)));  // 25 blocks
  EXPECT_FALSE(PrefersQuadLayout(DenseWeights(GgmlType::kQ4_1, 8, 896, nullptr)));
  EXPECT_FALSE(PrefersQuadLayout(DenseWeights(GgmlType::kQ4_K, 8, 1024, nullptr)));
  WeightView quads = DenseWeights(GgmlType::kQ4_0, 8, 256, nullptr);
  quads.layout = WeightLayout::kQuads;
  EXPECT_FALSE(PrefersQuadLayout(quads));  // already converted

  std::vector<uint8_t> data(RowBytes(GgmlType::kQ4_K, 1024));
  WeightView bad = DenseWeights(GgmlType::kQ4_K, 1, 1024, data.data());
  bad.layout = WeightLayout::kQuads;
  EXPECT_FALSE(CheckWeights(bad).ok());
  bad = DenseWeights(GgmlType::kQ8_0, 1, 96, data.data());
  bad.layout = WeightLayout::kQuads;
  EXPECT_FALSE(CheckWeights(bad).ok());
}

// Every path (decode-sized row kernels, the panel path, capped levels, f32
// activations, MatMulShared) gives bit for bit what it gives on the GGML rows.
TEST(QuadLayoutTest, ProductsEqualThoseOfTheGgmlLayout) {
  ThreadPool pool(2);
  for (GgmlType t : kQuadTypes) {
    for (int64_t cols : {int64_t{128}, int64_t{896}}) {
      const int64_t rows = 37;
      const std::vector<uint8_t> ggml = RandomRows(t, rows, cols, 3 + static_cast<uint32_t>(cols));
      std::vector<uint8_t> converted(ggml.size());
      const WeightView g = DenseWeights(t, rows, cols, ggml.data());
      const WeightView q = CopyToQuadLayout(g, converted.data());
      ASSERT_EQ(q.layout, WeightLayout::kQuads);
      ASSERT_TRUE(CheckWeights(q).ok());
      std::vector<float> want(cols), got(cols);
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(t, ggml.data() + r * g.row_stride, want.data(), cols);
        DequantizeWeightRow(q, r, got.data());
        ASSERT_EQ(got, want) << TypeName(t) << " row " << r;
      }
      for (int64_t n : {1, 2, 3, 4, 5, 8, 16, 21}) {
        const std::vector<float> x = RandomActivations(n * cols, 7 * static_cast<uint32_t>(n));
        for (ActivationMode mode : {ActivationMode::kQ8, ActivationMode::kF32}) {
          for (int l = 0; l <= static_cast<int>(ActiveCpuLevel()); ++l) {
            KernelOptions opt;
            opt.activations = mode;
            opt.max_level = static_cast<CpuLevel>(l);
            SCOPED_TRACE(testing::Message() << TypeName(t) << " cols=" << cols << " n=" << n << " level=" << l
                                            << " mode=" << static_cast<int>(mode));
            std::vector<float> yg(n * rows, -1.0f), yq(n * rows, -2.0f);
            ASSERT_TRUE(MatMul(g, x.data(), n, yg.data(), &pool, opt).ok());
            ASSERT_TRUE(MatMul(q, x.data(), n, yq.data(), n % 2 ? &pool : nullptr, opt).ok());
            ASSERT_EQ(yq, yg);
            // Mixed layouts sharing one input.
            const WeightView ws[] = {q, g};
            std::vector<float> s0(n * rows, -3.0f), s1(n * rows, -4.0f);
            float* const ys[] = {s0.data(), s1.data()};
            ASSERT_TRUE(MatMulShared(ws, x.data(), n, ys, &pool, opt).ok());
            ASSERT_EQ(s0, yg);
            ASSERT_EQ(s1, yg);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace tinyrag
