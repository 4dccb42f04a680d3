#include "model/kernels.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/activation_quant.h"
#include "model/half.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"
#include "tests/unit/random_weights.h"

namespace tinyrag {
namespace {

using testing_data::RandomActivations;
using testing_data::RandomWeights;

constexpr GgmlType kAllTypes[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,   GgmlType::kQ4_1,
    GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0, GgmlType::kQ2_K,   GgmlType::kQ3_K,
    GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_NL, GgmlType::kIQ4_XS};

bool IsFloat(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

// Sum of |w_j * x_j| of a row, the natural scale of rounding errors.
double AbsDot(GgmlType t, const uint8_t* row, const float* x, int64_t cols) {
  std::vector<float> w(cols);
  DequantizeRow(t, row, w.data(), cols);
  double s = 0;
  for (int64_t j = 0; j < cols; ++j) s += std::fabs(static_cast<double>(w[j]) * x[j]);
  return s;
}

std::vector<float> RunKernel(const WeightView& w, const std::vector<float>& x, int64_t n,
                       ActivationMode mode, CpuLevel level, ThreadPool* pool = nullptr) {
  std::vector<float> y(n * w.rows, -12345.0f);
  KernelOptions opt;
  opt.activations = mode;
  opt.max_level = level;
  EXPECT_TRUE(MatMul(w, x.data(), n, y.data(), pool, opt).ok());
  return y;
}

std::vector<int64_t> ColsFor(GgmlType t) {
  if (Traits(t).block_elems == kQK_K) return {256, 768, 1280};
  if (IsFloat(t)) return {8, 37, 256, 1000};
  return {32, 96, 256, 800};
}

std::vector<ActivationMode> ModesFor(GgmlType t) {
  if (IsFloat(t)) return {ActivationMode::kF32};
  return {ActivationMode::kF32, ActivationMode::kQ8};
}

// Scalar f32 mode equals a double-precision dot with DequantizeRow (the
// independent decoder) up to float summation error.
TEST(KernelsTest, ScalarF32MatchesDequantizedDot) {
  for (GgmlType t : kAllTypes) {
    for (int64_t cols : ColsFor(t)) {
      SCOPED_TRACE(testing::Message() << TypeName(t) << " cols=" << cols);
      const int64_t rows = 5;
      const int64_t stride = RowBytes(t, cols);
      std::vector<uint8_t> data = RandomWeights(t, rows, cols, stride, 11);
      std::vector<float> x = RandomActivations(cols, 12);
      std::vector<float> y =
          RunKernel(DenseWeights(t, rows, cols, data.data()), x, 1, ActivationMode::kF32, CpuLevel::kScalar);
      std::vector<float> w(cols);
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(t, data.data() + r * stride, w.data(), cols);
        double ref = 0, mag = 0;
        for (int64_t j = 0; j < cols; ++j) {
          ref += static_cast<double>(w[j]) * x[j];
          mag += std::fabs(static_cast<double>(w[j]) * x[j]);
        }
        EXPECT_NEAR(y[r], ref, 1e-6 * mag * std::sqrt(static_cast<double>(cols)) + 1e-30)
            << "row " << r;
      }
    }
  }
}

// Scalar q8 mode equals the double dot of the weights with the dequantized
// 8-bit activations (the Q4_1/Q5_1 min term uses GGML's fp16-rounded sum).
TEST(KernelsTest, ScalarQ8MatchesDotWithQuantizedActivations) {
  for (GgmlType t : kAllTypes) {
    if (IsFloat(t)) continue;
    for (int64_t cols : ColsFor(t)) {
      SCOPED_TRACE(testing::Message() << TypeName(t) << " cols=" << cols);
      const int64_t rows = 5;
      const int64_t stride = RowBytes(t, cols);
      std::vector<uint8_t> data = RandomWeights(t, rows, cols, stride, 21);
      std::vector<float> x = RandomActivations(cols, 22);
      std::vector<float> y =
          RunKernel(DenseWeights(t, rows, cols, data.data()), x, 1, ActivationMode::kQ8, CpuLevel::kScalar);
      // Dequantized activations.
      std::vector<double> xq(cols);
      if (Traits(t).block_elems == kQK_K) {
        std::vector<BlockQ8_K> q(cols / kQK_K);
        QuantizeActivationsK(x.data(), cols, q.data());
        for (int64_t j = 0; j < cols; ++j) xq[j] = static_cast<double>(q[j / 256].d) * q[j / 256].qs[j % 256];
      } else {
        std::vector<ActBlock32> q(cols / kQK);
        QuantizeActivations32(x.data(), cols, q.data());
        for (int64_t j = 0; j < cols; ++j) xq[j] = static_cast<double>(q[j / 32].d) * q[j / 32].qs[j % 32];
      }
      std::vector<float> w(cols);
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(t, data.data() + r * stride, w.data(), cols);
        double ref = 0, mag = 0;
        for (int64_t j = 0; j < cols; ++j) {
          ref += w[j] * xq[j];
          mag += std::fabs(w[j] * xq[j]);
        }
        // The _1 types' min term uses an fp16-rounded activation sum (2^-11).
        const double tol = (t == GgmlType::kQ4_1 || t == GgmlType::kQ5_1 ? 2e-3 : 1e-5) * mag;
        EXPECT_NEAR(y[r], ref, tol) << "row " << r;
      }
    }
  }
}

// Every SIMD level this machine has agrees with the scalar oracle: bit-exact
// for k-quant/IQ4_XS q8 (integer sums, same float steps), within float
// summation error otherwise. Covers odd row counts, several lengths, row
// strides with padding, and activation counts below/above the kernel group
// and the matmul tile.
TEST(KernelsTest, SimdLevelsMatchScalar) {
  const CpuLevel top = ActiveCpuLevel();
  if (top == CpuLevel::kScalar) GTEST_SKIP() << "no SIMD level on this CPU (or TINYRAG_CPU=scalar)";
  for (GgmlType t : kAllTypes) {
    for (int64_t cols : ColsFor(t)) {
      for (int64_t rows : {1, 7, 33}) {
        const int64_t stride = RowBytes(t, cols) + (rows == 7 ? 64 : 0);
        std::vector<uint8_t> data = RandomWeights(t, rows, cols, stride, 100 + rows + cols);
        const WeightView w{t, rows, cols, data.data(), stride};
        for (int64_t n : {1, 3, 4, 9, 70}) {
          std::vector<float> x = RandomActivations(n * cols, 7 * n + cols);
          for (ActivationMode mode : ModesFor(t)) {
            const std::vector<float> ref = RunKernel(w, x, n, mode, CpuLevel::kScalar);
            for (int l = 1; l <= static_cast<int>(top); ++l) {
              const CpuLevel level = static_cast<CpuLevel>(l);
              SCOPED_TRACE(testing::Message()
                           << TypeName(t) << " cols=" << cols << " rows=" << rows << " n=" << n
                           << " mode=" << (mode == ActivationMode::kQ8 ? "q8" : "f32")
                           << " level=" << CpuLevelName(level));
              const std::vector<float> got = RunKernel(w, x, n, mode, level);
              const bool exact = mode == ActivationMode::kQ8 && Traits(t).block_elems == kQK_K;
              for (int64_t i = 0; i < n; ++i) {
                for (int64_t r = 0; r < rows; ++r) {
                  const float a = ref[i * rows + r], b = got[i * rows + r];
                  if (exact) {
                    ASSERT_EQ(a, b) << "i=" << i << " r=" << r;
                  } else {
                    const double mag = AbsDot(t, data.data() + r * stride, x.data() + i * cols, cols);
                    ASSERT_NEAR(a, b, 2e-6 * mag + 1e-30) << "i=" << i << " r=" << r;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

// MatMul over fewer rows than the panel path takes equals n MatVecs bit for
// bit (the tiling and the multi-activation kernels change no arithmetic), on
// every level, with and without a pool.
TEST(KernelsTest, MatMulEqualsRepeatedMatVec) {
  ThreadPool pool(3);
  for (GgmlType t : kAllTypes) {
    // 800 values = 25 blocks: the AVX-512 quad kernels' last group of 4 is partial.
    for (int64_t cols : {int64_t{512}, Traits(t).block_elems == kQK_K ? int64_t{768} : int64_t{800}}) {
      const int64_t rows = 37, n = kernels::kPanelMinActs - 1;
      std::vector<uint8_t> data = RandomWeights(t, rows, cols, RowBytes(t, cols), 5);
      const WeightView w = DenseWeights(t, rows, cols, data.data());
      std::vector<float> x = RandomActivations(n * cols, 6);
      for (ActivationMode mode : ModesFor(t)) {
        for (int l = 0; l <= static_cast<int>(ActiveCpuLevel()); ++l) {
          const CpuLevel level = static_cast<CpuLevel>(l);
          SCOPED_TRACE(testing::Message() << TypeName(t) << " cols=" << cols << " level="
                                          << CpuLevelName(level) << " mode=" << static_cast<int>(mode));
          const std::vector<float> mm = RunKernel(w, x, n, mode, level, &pool);
          KernelOptions opt{mode, level};
          std::vector<float> y(rows);
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_TRUE(MatVec(w, x.data() + i * cols, y.data(), i % 2 ? &pool : nullptr, opt).ok());
            for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(mm[i * rows + r], y[r]) << i << "," << r;
          }
        }
      }
    }
  }
}

// MatMulShared equals one MatMul per matrix bit for bit: mixed types (one
// quantization shared by the two Q5_0 matrices, others of their own), f32
// weights, an empty matrix, decode-sized and prefill-sized n, every level.
TEST(KernelsTest, MatMulSharedEqualsSeparateMatMuls) {
  ThreadPool pool(2);
  const int64_t cols = 512;
  const std::vector<std::pair<GgmlType, int64_t>> shapes = {
      {GgmlType::kQ5_0, 96}, {GgmlType::kQ5_0, 16}, {GgmlType::kQ8_0, 16}, {GgmlType::kQ4_K, 40},
      {GgmlType::kF16, 24},  {GgmlType::kQ6_K, 0}};
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightView> ws;
  for (const auto& [t, rows] : shapes) {
    data.push_back(RandomWeights(t, rows, cols, RowBytes(t, cols), static_cast<uint32_t>(7 + ws.size())));
    ws.push_back(DenseWeights(t, rows, cols, data.back().data()));
  }
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{8}, int64_t{20}}) {
    const std::vector<float> x = RandomActivations(n * cols, 11);
    for (int l = 0; l <= static_cast<int>(ActiveCpuLevel()); ++l) {
      const CpuLevel level = static_cast<CpuLevel>(l);
      SCOPED_TRACE(testing::Message() << "n=" << n << " level=" << CpuLevelName(level));
      KernelOptions opt;
      opt.max_level = level;
      std::vector<std::vector<float>> shared(ws.size()), alone(ws.size());
      std::vector<float*> ys;
      for (size_t i = 0; i < ws.size(); ++i) {
        shared[i].assign(n * ws[i].rows, -1.0f);
        alone[i].assign(n * ws[i].rows, -2.0f);
        ys.push_back(shared[i].data());
        ASSERT_TRUE(MatMul(ws[i], x.data(), n, alone[i].data(), &pool, opt).ok());
      }
      ASSERT_TRUE(MatMulShared(ws, x.data(), n, ys, &pool, opt).ok());
      for (size_t i = 0; i < ws.size(); ++i) EXPECT_EQ(shared[i], alone[i]) << "matrix " << i;
    }
  }
  std::vector<float> y(ws[0].rows);
  const std::vector<float> x = RandomActivations(cols, 3);
  EXPECT_FALSE(MatMulShared(ws, x.data(), 1, std::vector<float*>{y.data()}, &pool).ok());  // sizes differ
  const WeightView narrow = DenseWeights(GgmlType::kQ8_0, 4, 256, data[2].data());
  const std::vector<WeightView> mixed = {ws[0], narrow};
  std::vector<float> y2(4);
  EXPECT_FALSE(MatMulShared(mixed, x.data(), 1, std::vector<float*>{y.data(), y2.data()}, &pool).ok());
}

// The AVX-512 panel path (q8 MatMul of kPanelMinActs rows or more) computes
// the scalar oracle's integers and float steps in the same order: equal bit
// for bit for every quantized type, partial panels, padded strides, pools.
TEST(KernelsTest, PanelPathIsBitIdenticalToScalar) {
  const CpuFeatures& f = DetectCpuFeatures();
  if (ActiveCpuLevel() < CpuLevel::kAvx512 || !f.avx512_vnni) {
    GTEST_SKIP() << "no AVX-512 VNNI on this CPU (or TINYRAG_CPU caps it)";
  }
  ThreadPool pool(3);
  for (GgmlType t : kAllTypes) {
    if (IsFloat(t)) continue;
    ASSERT_NE(kernels::Avx512PanelKernels(t), nullptr) << TypeName(t);
    for (int64_t cols : ColsFor(t)) {
      for (int64_t rows : {1, 16, 37}) {
        const int64_t stride = RowBytes(t, cols) + (rows == 37 ? 32 : 0);
        std::vector<uint8_t> data = RandomWeights(t, rows, cols, stride, 300 + rows + cols);
        const WeightView w{t, rows, cols, data.data(), stride};
        for (int64_t n : {kernels::kPanelMinActs, int64_t{21}, int64_t{70}}) {
          std::vector<float> x = RandomActivations(n * cols, 11 * n + cols);
          SCOPED_TRACE(testing::Message() << TypeName(t) << " cols=" << cols << " rows=" << rows
                                          << " n=" << n);
          const std::vector<float> ref = RunKernel(w, x, n, ActivationMode::kQ8, CpuLevel::kScalar);
          const std::vector<float> got =
              RunKernel(w, x, n, ActivationMode::kQ8, CpuLevel::kAvx512, n == 21 ? nullptr : &pool);
          for (int64_t i = 0; i < n * rows; ++i) ASSERT_EQ(ref[i], got[i]) << "output " << i;
        }
      }
    }
  }
}

TEST(KernelsTest, DefaultModeIsQ8ForQuantizedAndF32ForFloat) {
  EXPECT_EQ(ResolveActivationMode(GgmlType::kQ4_0, ActivationMode::kAuto), ActivationMode::kQ8);
  EXPECT_EQ(ResolveActivationMode(GgmlType::kQ6_K, ActivationMode::kAuto), ActivationMode::kQ8);
  EXPECT_EQ(ResolveActivationMode(GgmlType::kQ6_K, ActivationMode::kF32), ActivationMode::kF32);
  EXPECT_EQ(ResolveActivationMode(GgmlType::kF16, ActivationMode::kAuto), ActivationMode::kF32);
  EXPECT_EQ(ResolveActivationMode(GgmlType::kBF16, ActivationMode::kQ8), ActivationMode::kF32);
}

TEST(KernelsTest, EveryTypeHasAnAvx2KernelWhenAvailable) {
  if (ActiveCpuLevel() < CpuLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  for (GgmlType t : kAllTypes) {
    for (ActivationMode mode : ModesFor(t)) {
      EXPECT_GE(KernelLevel(t, mode), CpuLevel::kAvx2) << TypeName(t);
    }
  }
}

TEST(KernelsTest, RejectsBadViews) {
  std::vector<uint8_t> buf(4096);
  float x[64] = {}, y[4] = {};
  auto status = [&](WeightView w) { return MatVec(w, x, y, nullptr).code(); };
  const auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(status({GgmlType::kQ4_0, 2, 48, buf.data(), 100}), kBad);  // cols % 32
  EXPECT_EQ(status({GgmlType::kQ4_K, 2, 64, buf.data(), 100}), kBad);  // cols % 256
  EXPECT_EQ(status({GgmlType::kQ4_0, 2, 64, buf.data(), 35}), kBad);   // stride < 36
  EXPECT_EQ(status({GgmlType::kQ4_0, 2, 64, nullptr, 36}), kBad);
  EXPECT_EQ(status({GgmlType::kIQ2_XXS, 1, 256, buf.data(), 66}), kBad);
  EXPECT_EQ(status({static_cast<GgmlType>(99), 1, 32, buf.data(), 64}), kBad);
  EXPECT_EQ(status({GgmlType::kQ4_0, -1, 64, buf.data(), 36}), kBad);
  EXPECT_EQ(MatVec({GgmlType::kQ4_0, 2, 64, buf.data(), 36}, nullptr, y, nullptr).code(), kBad);
  EXPECT_EQ(MatMul({GgmlType::kQ4_0, 2, 64, buf.data(), 36}, x, -1, y, nullptr).code(), kBad);
  EXPECT_TRUE(MatVec({GgmlType::kQ4_0, 2, 64, buf.data(), 36}, x, y, nullptr).ok());
  EXPECT_TRUE(MatMul({GgmlType::kQ4_0, 2, 64, buf.data(), 36}, x, 0, y, nullptr).ok());
}

// Realistic weights from QuantizeRow: the q8 result stays close to the f32
// product of the dequantized weights (activation quantization error only).
TEST(KernelsTest, Q8ModeCloseToF32ModeOnQuantizedWeights) {
  for (GgmlType t : kAllTypes) {
    if (IsFloat(t)) continue;
    SCOPED_TRACE(TypeName(t));
    const int64_t rows = 16, cols = 1024;
    std::vector<float> wf = RandomActivations(rows * cols, 31);
    std::vector<uint8_t> data(rows * RowBytes(t, cols));
    for (int64_t r = 0; r < rows; ++r) {
      QuantizeRow(t, wf.data() + r * cols, data.data() + r * RowBytes(t, cols), cols);
    }
    const WeightView w = DenseWeights(t, rows, cols, data.data());
    std::vector<float> x = RandomActivations(cols, 32);
    const std::vector<float> f = RunKernel(w, x, 1, ActivationMode::kF32, ActiveCpuLevel());
    const std::vector<float> q = RunKernel(w, x, 1, ActivationMode::kQ8, ActiveCpuLevel());
    for (int64_t r = 0; r < rows; ++r) {
      // |error| of 8-bit activations ~ |w| * amax/254 * sqrt(cols) ~ 1 here.
      const double mag = AbsDot(t, data.data() + r * RowBytes(t, cols), x.data(), cols);
      EXPECT_NEAR(f[r], q[r], 0.02 * mag) << "row " << r;
    }
  }
}

TEST(ActivationQuantTest, Block32FollowsGgmlRounding) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax: maps to 127, so the multiplier is exactly 1
  x[1] = -63.5f;  // -> -64 (half to even)
  x[2] = 0.5f;    // -> 0
  x[3] = 1.5f;    // -> 2
  ActBlock32 b;
  QuantizeActivations32(x.data(), 32, &b);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -64);
  EXPECT_EQ(b.qs[2], 0);
  EXPECT_EQ(b.qs[3], 2);
  EXPECT_EQ(b.sum, 127 - 64 + 2);
  EXPECT_EQ(b.d, 1.0f);
  EXPECT_EQ(b.s, 65.0f);
}

TEST(ActivationQuantTest, SuperBlockMapsLargestMagnitudeToMinus127) {
  std::vector<float> x = RandomActivations(512, 3);
  x[300] = 10.0f;
  std::vector<BlockQ8_K> q(2);
  QuantizeActivationsK(x.data(), 512, q.data());
  EXPECT_EQ(q[1].qs[300 - 256], -127);
  EXPECT_FLOAT_EQ(q[1].d, -10.0f / 127.0f);
  for (int b = 0; b < 2; ++b) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += q[b].qs[16 * g + j];
      EXPECT_EQ(q[b].bsums[g], sum);
    }
  }
  std::vector<float> zeros(256, 0.0f);
  QuantizeActivationsK(zeros.data(), 256, q.data());
  EXPECT_EQ(q[0].d, 0.0f);
  EXPECT_EQ(q[0].bsums[5], 0);
}

// The SIMD activation quantizers write exactly the scalar bytes, including
// rows with ties for the largest magnitude, exact halves and zero blocks.
TEST(ActivationQuantTest, EveryLevelWritesTheScalarBytes) {
  const int64_t n = 2048;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::vector<float> x = RandomActivations(n, 500 + seed);
    if (seed % 4 == 1) {
      for (int64_t j = 0; j < 256; ++j) x[j] = 0.0f;  // an all-zero block
    }
    if (seed % 4 == 2) {
      x[10] = -9.0f;  // tie in magnitude: the first one decides the sign
      x[20] = 9.0f;
      for (int64_t j = 300; j < 340; ++j) x[j] = 0.5f * static_cast<float>(j - 320);
    }
    std::vector<ActBlock32> ref32(n / kQK), got32(n / kQK);
    std::vector<BlockQ8_K> refk(n / kQK_K), gotk(n / kQK_K);
    QuantizeActivations32(x.data(), n, ref32.data());
    QuantizeActivationsK(x.data(), n, refk.data());
    for (int l = 0; l <= static_cast<int>(ActiveCpuLevel()); ++l) {
      SCOPED_TRACE(testing::Message() << "seed " << seed << " level " << l);
      const auto& q = kernels::ActivationQuantizersFor(static_cast<CpuLevel>(l));
      std::memset(got32.data(), 0xAB, got32.size() * sizeof(ActBlock32));
      std::memset(gotk.data(), 0xAB, gotk.size() * sizeof(BlockQ8_K));
      q.block32(x.data(), n, got32.data());
      q.super_block(x.data(), n, gotk.data());
      EXPECT_EQ(std::memcmp(ref32.data(), got32.data(), ref32.size() * sizeof(ActBlock32)), 0);
      EXPECT_EQ(std::memcmp(refk.data(), gotk.data(), refk.size() * sizeof(BlockQ8_K)), 0);
    }
  }
}

}  // namespace
}  // namespace tinyrag
